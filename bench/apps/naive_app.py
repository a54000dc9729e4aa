"""The naive baseline: the textbook Lambda handler for a scikit-learn model.

FastAPI + Mangum + ``joblib.load`` of the whole pipeline at import, one
``predict`` per request. Used only by the benchmark, as the yardstick.
"""

import os

import joblib
from fastapi import FastAPI
from mangum import Mangum
from pydantic import BaseModel

model = joblib.load(os.path.join(os.environ["MODEL_DIR"], "model.joblib"))
app = FastAPI()


class PredictIn(BaseModel):
    text: str


@app.post("/predict")
def predict(body: PredictIn) -> dict[str, object]:
    label = model.predict([body.text])[0]
    return {"label": str(label)}


handler = Mangum(app, lifespan="off")
