"""wcse local engine: an OpenAI-compatible server over small open models, with real fine-tuning jobs."""
