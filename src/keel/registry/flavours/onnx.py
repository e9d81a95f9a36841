"""ONNX: networks exported from PyTorch or TensorFlow, and models converted to ONNX, run by
onnxruntime.

An ONNX file is a graph of standard operators and its weights, so running it needs no Python
object from the file. Two things in a file could still reach beyond it, and a file that has
either is refused before a session is built: weights stored as *external data* (a path the
runtime would read from the server's disk) and operators outside the standard domains (custom
operators are native libraries).

``OnnxModel`` gives a session the ``predict`` (and, for classifiers, ``predict_proba`` and
``classes_``) Keel calls on a DataFrame: a graph with one input takes the features as one matrix
in signature order; a graph with one input per feature (as skl2onnx converts pipelines) takes each
column under its name, with the tensor type the graph declares.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from keel.errors import InvalidInput, UntrustedArtifact
from keel.registry.flavours import bundle
from keel.registry.flavours.base import Flavour, top_module

MEMBER = "model.onnx"
#: operator domains onnxruntime implements itself ("" is the default ai.onnx domain)
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})
_NUMPY_OF = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}
_LABEL_NAMES = ("output_label", "label")
_PROBA_NAMES = ("output_probability", "probabilities")


class OnnxModel:
    """An onnxruntime session with ``predict`` on DataFrames; ``.model_bytes`` is the file."""

    def __init__(self, model_bytes: bytes, classes: list[Any] | None = None) -> None:
        import onnxruntime

        self.model_bytes = model_bytes
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            model_bytes, options, providers=["CPUExecutionProvider"]
        )
        self.inputs = self.session.get_inputs()
        names = [o.name for o in self.session.get_outputs()]
        self._label = next((names.index(n) for n in _LABEL_NAMES if n in names), None)
        self._proba = next((names.index(n) for n in _PROBA_NAMES if n in names), None)
        self.classes_ = np.asarray(classes) if classes is not None else None

    def __repr__(self) -> str:
        return f"OnnxModel(inputs={[i.name for i in self.inputs]})"

    def __getstate__(self) -> dict[str, Any]:
        """The file and the labels: a session cannot be pickled, it is rebuilt from them (a
        pipeline step's output is kept with cloudpickle)."""
        return {"model_bytes": self.model_bytes, "classes": self.classes_}

    def __setstate__(self, state: dict[str, Any]) -> None:
        classes = state["classes"]
        type(self).__init__(self, state["model_bytes"], None if classes is None else list(classes))

    @property
    def is_classifier(self) -> bool:
        return self._label is not None and self._proba is not None

    #: serving may hand ``predict`` plain columns (``{name: values}``) instead of a DataFrame
    takes_columns = True

    def feeds(self, frame: Any) -> dict[str, Any]:
        """The frame (or a mapping of column name to values) as the graph's inputs, each
        built with NumPy: pandas per column costs a hundred times what the graph does on a
        small batch."""
        names = list(frame.keys()) if isinstance(frame, dict) else list(frame.columns)
        if len(self.inputs) == 1 and self.inputs[0].name not in names:
            single = self.inputs[0]
            dtype = _NUMPY_OF.get(single.type, np.float32)
            if isinstance(frame, dict):
                columns = [_tensor(frame[n], np.float64) for n in names]
                return {single.name: np.column_stack(columns).astype(dtype, copy=False)}
            matrix: Any = np.asarray(frame, dtype=dtype)
            return {single.name: matrix}
        feeds = {}
        renamed = _columns_by_input_name(names)
        for spec in self.inputs:
            name = spec.name if spec.name in names else renamed.get(spec.name)
            if name is None:
                raise InvalidInput(spec.name, "the ONNX graph takes this input; it is missing")
            values = _tensor(frame[name], _NUMPY_OF.get(spec.type, np.float32))
            feeds[spec.name] = values.reshape(-1, 1) if len(spec.shape) == 2 else values
        return feeds

    def _run(self, frame: Any) -> list[Any]:
        return list(self.session.run(None, self.feeds(frame)))

    def predict(self, frame: Any) -> Any:
        return self._labels(self._run(frame))

    def predict_and_proba(self, frame: Any) -> tuple[Any, Any]:
        """Labels and probabilities (None without a probability output) from one run of the
        graph: serving asks for both per batch, and the graph computes both at once."""
        outputs = self._run(frame)
        proba = self._probabilities_of(outputs) if self._proba is not None else None
        return self._labels(outputs), proba

    @property
    def predict_proba(self) -> Any:
        """Probabilities, for a graph with a probability output; a graph without one has no
        ``predict_proba`` at all, as a scikit-learn regressor has none."""
        if self._proba is None:
            raise AttributeError("this ONNX graph has no probability output")
        return lambda frame: self._probabilities_of(self._run(frame))

    def _labels(self, outputs: list[Any]) -> Any:
        result = np.asarray(outputs[self._label if self._label is not None else 0])
        if result.ndim == 2 and result.shape[1] == 1:
            result = result.ravel()
        return result

    def _probabilities_of(self, outputs: list[Any]) -> Any:
        assert self._proba is not None
        proba = outputs[self._proba]
        if isinstance(proba, list):  # a ZipMap: one {class: probability} per row
            classes = list(self.classes_) if self.classes_ is not None else list(proba[0])
            return np.array([[row[c] for c in classes] for row in proba], dtype=np.float64)
        return np.asarray(proba, dtype=np.float64)


def _tensor(column: Any, dtype: Any) -> Any:
    """One column (a pandas Series or plain values) as the tensor type the graph declares:
    text with missing values as "", numbers and booleans as that NumPy type (missing numbers
    NaN)."""
    if not hasattr(column, "to_numpy"):
        return _tensor_of_values(column, dtype)
    if dtype is np.object_:
        values = column.to_numpy(dtype=object, na_value="")
        if not all(type(v) is str for v in values):
            values = values.astype(str).astype(object)
        return values
    if dtype is np.bool_:
        return column.to_numpy(dtype=bool, na_value=False)
    if not _is_numeric(column):  # a category flagged unseen arrives as its label
        column = _pandas().to_numeric(column, errors="coerce")
    return column.to_numpy(dtype=np.float64, na_value=np.nan).astype(dtype, copy=False)


def _tensor_of_values(values: Any, dtype: Any) -> Any:
    if dtype is np.object_:
        text = ["" if v is None else v if type(v) is str else str(v) for v in values]
        return np.array(text, dtype=object)
    if dtype is np.bool_:
        return np.array([bool(v) for v in values], dtype=bool)
    numbers = np.array([_number(v) for v in values], dtype=np.float64)
    return numbers.astype(dtype, copy=False)


def _number(value: Any) -> float:
    """A value for a number input; what is none (missing, an unseen category's label) is NaN,
    as a model converted from a framework takes a missing value."""
    if value is None or isinstance(value, str | bytes):
        try:
            return float(value) if value is not None else np.nan
        except ValueError:
            return np.nan
    return float(value)


def _is_numeric(column: Any) -> bool:
    return bool(_pandas().api.types.is_numeric_dtype(column.dtype)) and not isinstance(
        column.dtype, _pandas().CategoricalDtype
    )


def _pandas() -> Any:
    import pandas

    return pandas


def _columns_by_input_name(columns: Any) -> dict[str, str]:
    """Columns under the names converters give graph inputs: skl2onnx turns every character
    that is not a word character into ``_`` (``emp.var.rate`` becomes ``emp_var_rate``)."""
    return {re.sub(r"[^\w+]", "_", str(c)): str(c) for c in columns}


def _problems(data: bytes) -> list[str]:
    """Why this ONNX file may not run here (empty when it may): every graph is searched, the
    subgraphs of control-flow nodes (If, Loop, Scan) included, for tensors stored outside the
    file and operators outside the standard domains."""
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise InvalidInput("model", f"not an ONNX model: {exc}") from exc
    tensors: list[Any] = []
    domains = {o.domain for o in model.opset_import}
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        tensors.extend(graph.initializer)
        for sparse in graph.sparse_initializer:
            tensors.extend((sparse.values, sparse.indices))
        for node in graph.node:
            domains.add(node.domain)
            for attribute in node.attribute:
                tensors.extend([attribute.t] if attribute.HasField("t") else [])
                tensors.extend(attribute.tensors)
                for sparse in [attribute.sparse_tensor, *attribute.sparse_tensors]:
                    tensors.extend((sparse.values, sparse.indices))
                graphs.extend([attribute.g] if attribute.HasField("g") else [])
                graphs.extend(attribute.graphs)
    problems = []
    for tensor in tensors:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            where = {e.key: e.value for e in tensor.external_data}.get("location", "?")
            problems.append(f"onnx.external_data:{where}")
    problems.extend(f"onnx.custom_domain:{d}" for d in sorted(domains - STANDARD_DOMAINS))
    if model.functions:
        problems.append("onnx.local_functions")
    return problems


class OnnxFlavour(Flavour):
    name = "onnx"
    format = "onnx"
    package = "onnxruntime"
    extra = "onnx"
    suffixes = (".onnx",)

    def detects(self, model: Any) -> bool:
        return isinstance(model, OnnxModel) or (
            top_module(model) == "onnx" and type(model).__name__ == "ModelProto"
        )

    def save(self, model: Any) -> bytes:
        if isinstance(model, OnnxModel):
            payload, classes = model.model_bytes, model.classes_
        else:
            payload, classes = model.SerializeToString(), None
        meta: dict[str, Any] = {"wrapper": "OnnxModel"}
        if classes is not None:
            meta["classes"] = np.asarray(classes).tolist()
        return bundle.write(self.name, MEMBER, payload, meta)

    def check(self, data: bytes) -> None:
        _, payload = bundle.read(data, self.name, MEMBER)
        self._check_graph(payload)

    def load(self, data: bytes) -> Any:
        meta, payload = bundle.read(data, self.name, MEMBER)
        self._check_graph(payload)
        return self._session(payload, meta.get("classes"))

    def read_file(self, data: bytes) -> Any:
        self._check_graph(data)
        return self._session(data, None)

    def unfitted(self, model: Any) -> Any:
        raise self.cannot_refit(
            "an ONNX graph Keel did not convert",
            "a graph from keel models convert is refit through its source",
        )

    def _check_graph(self, payload: bytes) -> None:
        problems = _problems(payload)
        if problems:
            raise UntrustedArtifact(
                "",
                problems,
                hint="the ONNX file reaches beyond itself (external data read from disk or "
                "custom operators); Keel runs only self-contained standard graphs",
            )

    def _session(self, payload: bytes, classes: list[Any] | None) -> OnnxModel:
        self.framework()
        try:
            return OnnxModel(payload, classes)
        except Exception as exc:  # onnxruntime's own errors on a graph it cannot run
            raise InvalidInput("model", f"onnxruntime cannot run this graph: {exc}") from exc
