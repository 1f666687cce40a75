"""The web app's parts below its layout (``app.py``): handlers, what the page shows, who is who, and
the workarounds Gradio needs. Nothing here is imported by ``digit_core``."""
