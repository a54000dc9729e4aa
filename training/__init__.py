"""Training: turn a labelled CSV/JSONL file into a model layer (``python -m training``)."""
