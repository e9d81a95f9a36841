from keel.client import Client


def test_register_and_load_round_trip(client: Client, cancer_frame, fitted_model) -> None:
    snapshot = client.register_snapshot(cancer_frame, "cancer")
    version = client.register_model("cancer", fitted_model, training_data=snapshot, target="target")
    client.set_alias("cancer", "champion", version.version, reason="first")
    loaded = client.load_model("models:/cancer@champion")
    features = cancer_frame.drop(columns=["target"])
    assert (loaded.predict(features) == fitted_model.predict(features)).all()
