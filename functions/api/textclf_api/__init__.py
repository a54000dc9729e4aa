"""The API function's package: the FastAPI application, its API Gateway adapter, its metrics
and its SnapStart warm-up. Lambda's entry point is :data:`textclf_api.main.handler`."""
