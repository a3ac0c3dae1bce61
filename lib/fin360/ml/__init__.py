"""Models: MLlib pipelines tracked, registered and promoted in MLflow."""
