"""Page styles and the small scripts the page runs in the browser."""

#: Page styles (``launch(css=PAGE_CSS)``): no zoom, pan or colour controls on the canvas (there is
#: one colour, and zooming a canvas this size helps no one), no page chrome crowding a phone.
PAGE_CSS = """
#sketchpad button[aria-label="Pan"], #sketchpad button[aria-label="Zoom in"],
#sketchpad button[aria-label="Zoom out"], #sketchpad .zoom-number,
#sketchpad button[aria-label="Color"] { display: none !important; }
#message { min-height: 2.5em; font-size: 1.1em; }
@media (max-width: 640px) {
  #sketchpad { height: 250px !important; }
  /* the tool bar sits at the left edge: keep the canvas clear of it */
  #sketchpad .pixi-target, #sketchpad .pixi-target-crop { left: 48px !important; width: calc(100% - 48px) !important; }
}
"""
#: Gradio's sketchpad starts with no tool chosen; pick the brush so people can draw at once. Only
#: when it is not already chosen: clicking the chosen brush again drops it, and on a busy machine this
#: can run after the person has started the next drawing (half a 7 drawn, the rest lost).
SELECT_BRUSH_JS = """
() => {
  let tries = 0;
  const pick = () => {
    const brush = document.querySelector('#sketchpad button[aria-label="Brush"]');
    const chosen = brush && brush.classList.contains('highlight');
    if (brush && !chosen) brush.click();
    if (tries++ < 40 && !chosen) setTimeout(pick, 250);
  };
  setTimeout(pick, 300);
}
"""
#: "Clear" and a saved flag clear the canvas in the browser, with the canvas's own trash button,
#: whose clear event then resets the answer and chooses the brush again. Never by sending the
#: sketchpad an empty value from the server: that covers the canvas with a progress spinner while
#: the event waits in the queue, and the sketchpad does not always apply it (the old strokes stayed
#: on a busy machine).
CLEAR_CANVAS_JS = """
(status) => {
  if (typeof status === 'string' && !status.startsWith('Saved')) return;
  const trash = document.querySelector('#sketchpad button[aria-label="Clear canvas"]');
  if (trash) trash.click();
}
"""
