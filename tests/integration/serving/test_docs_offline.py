"""``/docs`` on a real server names nothing outside it: the page and every file it loads come
from the server (a model server often has no way out to a CDN)."""

from __future__ import annotations

import re

from tests.integration.serving.conftest import Server


def test_docs_page_and_its_files_come_from_the_server(server: Server) -> None:
    with server.client() as http:
        page = http.get("/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        html = page.text
        assert "://" not in html  # no CDN, no favicon host, no online validator
        loaded = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert len(loaded) == 3  # Swagger UI's script, its stylesheet and a favicon
        kinds = {}
        for path in loaded:
            answer = http.get(path)
            assert answer.status_code == 200 and answer.content, path
            kinds[path.rsplit(".", 1)[-1]] = answer.headers["content-type"]
        assert "javascript" in kinds["js"] and kinds["css"].startswith("text/css")
        script = next(path for path in loaded if path.endswith(".js"))
        assert "SwaggerUIBundle" in http.get(script).text
        assert "url: '/openapi.json'" in html
        assert http.get("/openapi.json").status_code == 200
        assert http.get("/docs/oauth2-redirect").status_code == 200
        assert http.get("/redoc").status_code == 404  # its page would load from a CDN
