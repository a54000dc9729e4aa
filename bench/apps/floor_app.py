"""The framework floor: FastAPI + Mangum answering a trivial async route, no model at all."""

from fastapi import FastAPI
from mangum import Mangum
from pydantic import BaseModel

app = FastAPI()


class PredictIn(BaseModel):
    text: str


@app.post("/predict")
async def predict(body: PredictIn) -> dict[str, object]:
    return {"label": "constant", "length": len(body.text)}


handler = Mangum(app, lifespan="off")
