"""The web chat: pure rendering helpers (render.py) and the Gradio app (app.py).

Import ``assistant.web.app`` only where Gradio is wanted; ``assistant.web.render`` has no
Gradio dependency and is what the handler-level tests exercise."""
