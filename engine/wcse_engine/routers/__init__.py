"""One APIRouter per OpenAI resource; create_app (app.py) includes them all."""
