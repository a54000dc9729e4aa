"""Model backends: each module has ``load(model_dir, manifest) -> Predictor``."""
