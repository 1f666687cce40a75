"""Page styles and the small scripts the page runs in the browser."""

#: Page styles (``launch(css=PAGE_CSS)``): no zoom, pan, colour or size controls on the canvas (one
#: colour and one brush size: the page's hook draws the strokes as the sketchpad shows them, and the
#: model reads any stroke width; zooming a canvas this size helps no one), no page chrome crowding a
#: phone.
PAGE_CSS = """
#sketchpad button[aria-label="Pan"], #sketchpad button[aria-label="Zoom in"],
#sketchpad button[aria-label="Zoom out"], #sketchpad .zoom-number,
#sketchpad button[aria-label="Color"] { display: none !important; }
#sketchpad .toolbar-wrap .half-container.right { display: none !important; }  /* colour and size */
#sketchpad { height: 460px !important; touch-action: none; }
#message { min-height: 2.5em; font-size: 1.1em; }
#boxes img { object-fit: contain; }
@media (max-width: 640px) {
  /* a phone: the canvas as wide as the screen allows, the tool bar above it, the answer in sight */
  h1 { font-size: 1.4em !important; margin-bottom: 0 !important; }
  #sketchpad { height: 410px !important; }
  #sketchpad .toolbar-wrap { top: 2px !important; left: 2px !important; }
  #sketchpad .toolbar-wrap { flex-direction: row !important; }
  #sketchpad label[data-testid="block-label"] { display: none !important; }
  #sketchpad .pixi-target, #sketchpad .pixi-target-crop { left: 0 !important; width: 100% !important; }
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
  const sketchpad = document.querySelector('#sketchpad');
  if (typeof status === 'string' && !(sketchpad && sketchpad.offsetParent)) return;  // a flag on the Upload tab
  const trash = document.querySelector('#sketchpad button[aria-label="Clear canvas"]');
  if (trash) trash.click();
}
"""

#: The page's drawing hook (``launch(head=PAGE_HEAD)``), installed before the sketchpad is made.
#:
#: It keeps the drawing itself: the strokes the sketchpad draws, from the same pointer events (points
#: in canvas pixels, the brush's radius, brush or eraser), undone, redone and cleared as the
#: sketchpad's history is. After each stroke (pointer up), an undo, a redo and a cleared canvas it
#: draws them in a 2D canvas as the sketchpad's brush does (discs of the brush's radius along the
#: path), crops that to the ink's box with a margin, reduces the crop to at most ``INK_SIDE`` pixels
#: and sends it at once as a PNG of a few kilobytes, through the hidden ``#ink-read`` button's event
#: (``web.handlers.ink_on_page``). Nothing waits for the sketchpad's frame nor reads its WebGL pixels
#: back (together 100-250 ms of the answer's time), and its brush's hover ring is never taken for ink.
#: While the answer is on its way the sketchpad's render loop waits: a browser drawing WebGL in
#: software spent 50-250 ms on each of its frames, the answer behind them (docs/page.md).
#: The sketchpad itself sends nothing: with no change event attached it never encodes its full-size
#: layers (``toBlob``, ~170 ms each at 800x400) nor uploads them. Every payload carries the page's
#: sequence number (``seq``), one more for each payload; the server drops a payload older than one it
#: has already shown (``Page.seq``).
INK_SIDE = 256
#: The sketchpad's canvas: square, so that on a phone (390 px wide) it is drawn at least 300x300
#: CSS pixels; a number of four or five digits still fits side by side.
CANVAS_SIZE = (600, 600)
#: The brush's and the eraser's radius in canvas pixels (the sketchpad draws discs of this radius):
#: fixed, their size control hidden (``PAGE_CSS``), so that the page draws what the sketchpad shows.
BRUSH_RADIUS = 22
ERASER_RADIUS = 22
PAGE_HEAD = (
    """
<style>
/* a phone: the page's own margins (outside what launch(css=) reaches) give the canvas their room */
@media (max-width: 640px) { .main.app { padding-left: 6px !important; padding-right: 6px !important; } }
</style>
<script>
(() => {
  const INK_SIDE = """
    + str(INK_SIDE)
    + """, CANVAS = """
    + str(list(CANVAS_SIZE))
    + """, RADIUS = {brush: """
    + str(BRUSH_RADIUS)
    + """, eraser: """
    + str(ERASER_RADIUS)
    + """};
  const RESUME_MS = 600;
  const ink = window.digitInk = {seq: 0, dirty: false, strokes: [], undone: [], stroke: null};
  let pausedStroke = false;  // a stroke has just ended: the sketchpad's loop waits (below)
  // The drawing as the sketchpad shows it, cropped to its ink's box with a margin: a PNG data URL,
  // or null when there is no ink.
  ink.png = () => {
    if (!ink.strokes.some((stroke) => !stroke.erase)) return null;
    const [width, height] = CANVAS, full = document.createElement('canvas');
    full.width = width; full.height = height;
    const pen = full.getContext('2d', {willReadFrequently: true});
    pen.fillStyle = '#fff'; pen.fillRect(0, 0, width, height);
    pen.lineCap = pen.lineJoin = 'round';
    for (const stroke of ink.strokes) {
      const [x0, y0] = stroke.points[0];
      pen.fillStyle = pen.strokeStyle = stroke.erase ? '#fff' : '#000';
      pen.lineWidth = 2 * stroke.radius;
      pen.beginPath();
      if (stroke.points.length === 1) { pen.arc(x0, y0, stroke.radius, 0, 2 * Math.PI); pen.fill(); continue; }
      pen.moveTo(x0, y0);
      for (const [x, y] of stroke.points.slice(1)) pen.lineTo(x, y);
      pen.stroke();
    }
    const pixels = pen.getImageData(0, 0, width, height).data;
    let left = width, right = -1, top = height, bottom = -1;
    for (let y = 0, p = 0; y < height; y++) for (let x = 0; x < width; x++, p += 4) {
      if (pixels[p] >= 128) continue;
      if (x < left) left = x; if (x > right) right = x;
      if (y < top) top = y; if (y > bottom) bottom = y;
    }
    if (right < 0) return null;
    // A margin of 30% of the ink's size, white beyond the canvas: framed as the whole canvas is
    // (held-out pen digits: 98.75% read right either way, 97.25% with a 10% margin).
    const margin = Math.round(0.3 * Math.max(right - left, bottom - top)) + 2;
    left -= margin; top -= margin; right += margin; bottom += margin;
    const w = right - left + 1, h = bottom - top + 1, scale = Math.min(1, INK_SIDE / Math.max(w, h));
    const crop = document.createElement('canvas');
    crop.width = Math.max(1, Math.round(w * scale)); crop.height = Math.max(1, Math.round(h * scale));
    const out = crop.getContext('2d');
    out.fillStyle = '#fff'; out.fillRect(0, 0, crop.width, crop.height);
    out.imageSmoothingQuality = 'high';
    out.drawImage(full, left, top, w, h, 0, 0, crop.width, crop.height);
    return crop.toDataURL('image/png');
  };
  // The payload of the next reading: the drawing as it is now, with the next sequence number.
  ink.payload = () => {
    const png = ink.png();
    ink.seq += 1; ink.dirty = false; ink.sentAt = performance.now();
    return JSON.stringify({seq: ink.seq, png: png});
  };
  // Another tab's answer is shown from now on: no drawing sent before may replace it.
  ink.bump = () => { ink.seq += 1; return JSON.stringify({seq: ink.seq, png: null}); };
  // What a flag applies to: the drawing last sent, or one not read yet when it has changed since.
  ink.flagged = () => JSON.stringify({seq: ink.dirty ? ink.seq + 1 : ink.seq, png: null});
  // The drawing changed: read it now (#ink-read's event takes the payload when it is sent).
  ink.changed = () => {
    ink.dirty = true;
    const button = document.getElementById('ink-read');
    if (button) button.click();
  };
  // Where the sketchpad shows its canvas, in CSS pixels: centred, at the zoom it shows.
  ink.imageRect = () => {
    const shown = document.querySelector('#sketchpad .pixi-target canvas');
    const zoom = parseFloat((document.querySelector('#sketchpad .zoom-number') || {}).textContent);
    if (!shown || !zoom) return null;
    const box = shown.getBoundingClientRect(), w = CANVAS[0] * zoom / 100, h = CANVAS[1] * zoom / 100;
    const left = box.left + (box.width - w) / 2, top = box.top + (box.height - h) / 2;
    return {left: left, top: top, right: left + w, bottom: top + h};
  };
  // A point of a pointer event in canvas pixels.
  const onCanvas = (event, area) => [
    (event.clientX - area.left) * CANVAS[0] / (area.right - area.left),
    (event.clientY - area.top) * CANVAS[1] / (area.bottom - area.top),
  ];
  // Whether a pointer event is on the sketchpad's drawing surface, not one of its controls.
  const onSurface = (event) => {
    const target = event.target instanceof Element ? event.target : null;
    return !!target && !!target.closest('#sketchpad') && !target.closest('button, label, input');
  };
  const chosen = (name) => {
    const button = document.querySelector(`#sketchpad button[aria-label="${name}"]`);
    return !!button && button.classList.contains('highlight');
  };
  // A stroke that starts beside the canvas (the sketchpad ignores it) starts at the canvas's edge.
  document.addEventListener('pointerdown', (event) => {
    if (!event.isTrusted || !onSurface(event)) return;
    const area = ink.imageRect(), shown = document.querySelector('#sketchpad .pixi-target canvas');
    if (!area || !shown) return;
    const x = event.clientX, y = event.clientY, edge = 3;
    if (x > area.left + edge && x < area.right - edge && y > area.top + edge && y < area.bottom - edge) return;
    event.stopPropagation(); event.preventDefault();
    const clamp = (v, low, high) => Math.min(Math.max(v, low), high);
    const at = {clientX: clamp(x, area.left + edge, area.right - edge), clientY: clamp(y, area.top + edge, area.bottom - edge)};
    const send = (type, buttons) => shown.dispatchEvent(new PointerEvent(type, Object.assign({
      bubbles: true, cancelable: true, composed: true, pointerId: event.pointerId, pointerType: event.pointerType,
      isPrimary: event.isPrimary, button: buttons ? event.button : -1, buttons: buttons, pressure: buttons ? event.pressure || 0.5 : 0,
      width: event.width, height: event.height,
    }, at)));
    send('pointermove', 0);  // the sketchpad starts a stroke only where its cursor last was over the canvas
    send('pointerdown', event.buttons || 1);
  }, true);
  // The strokes, from the events the sketchpad draws them from: it starts one where the pointer goes
  // down over the canvas with the brush or the eraser chosen, and draws every move until it goes up.
  document.addEventListener('pointerdown', (event) => {
    if (ink.stroke || !event.isPrimary || !onSurface(event)) return;
    const area = ink.imageRect(), erase = chosen('Erase');
    if (!area || !(erase || chosen('Brush'))) return;
    const [x, y] = onCanvas(event, area);
    if (x < 0 || y < 0 || x > CANVAS[0] || y > CANVAS[1]) return;  // beside the canvas: replayed above
    ink.stroke = {pointer: event.pointerId, erase: erase, radius: erase ? RADIUS.eraser : RADIUS.brush, points: [[x, y]]};
  }, true);
  document.addEventListener('pointermove', (event) => {
    const area = ink.stroke && event.pointerId === ink.stroke.pointer && ink.imageRect();
    if (area) ink.stroke.points.push(onCanvas(event, area));
  }, true);
  const strokeEnds = (event) => {
    if (!ink.stroke || event.pointerId !== ink.stroke.pointer) return;
    ink.strokes.push(ink.stroke); ink.undone = []; ink.stroke = null; pausedStroke = true;
    ink.changed();
  };
  document.addEventListener('pointerup', strokeEnds, true);
  document.addEventListener('pointercancel', strokeEnds, true);
  // The sketchpad keeps drawing frames for 500 ms after the pointer goes up, and a browser without
  // a GPU (headless chromium, a phone's software fallback) waits 50-250 ms for each, the page's own
  // updates behind it: the answer came 400 ms after the last stroke. Its loop waits while the
  // answer is on its way (the stroke is already shown), and starts again the frame after the answer
  // is (ink.resume: #ink-read's then), or after RESUME_MS. The next stroke starts it as well.
  window.__PIXI_APP_INIT__ = (app) => { ink.sketchpad = app; };
  window.addEventListener('pointerup', () => {
    const ticker = pausedStroke && ink.sketchpad && ink.sketchpad.ticker;
    pausedStroke = false;
    if (!ticker) return;
    ticker.stop();
    clearTimeout(ink.resumeTimer);
    ink.resumeTimer = setTimeout(ink.resume, RESUME_MS);
  });  // bubbling: after the sketchpad's own handlers have drawn the stroke and woken its loop
  ink.resume = () => {
    clearTimeout(ink.resumeTimer);
    requestAnimationFrame(() => { const ticker = ink.sketchpad && ink.sketchpad.ticker; if (ticker && !ticker.started) ticker.start(); });
  };
  // Undo, Redo and the trash button, as the sketchpad's history has them (a cleared canvas starts a
  // new history).
  document.addEventListener('click', (event) => {
    const button = event.target instanceof Element && event.target.closest('#sketchpad button');
    const name = button ? button.getAttribute('aria-label') || '' : '';
    if (name === 'Undo' && ink.strokes.length) ink.undone.push(ink.strokes.pop());
    else if (name === 'Redo' && ink.undone.length) ink.strokes.push(ink.undone.pop());
    else if (name === 'Clear canvas') { ink.strokes = []; ink.undone = []; }
    else return;
    ink.changed();
  }, true);
})();
</script>
"""
)
#: The inputs of a drawing's reading (``#ink-read``): the payload of the drawing shown now.
INK_PAYLOAD_JS = "(ink, status, page) => [window.digitInk.payload(), status, page]"
#: An upload's reading: the upload's answer is shown from now on, over any drawing still on its way.
UPLOAD_SEQ_JS = "(file, ink, page) => [file, window.digitInk.bump(), page]"
#: A flag: which drawing it applies to.
FLAG_SEQ_JS = "(answer, page, ink) => [answer, page, window.digitInk.flagged()]"
#: A drawing's answer is shown: the sketchpad draws again (see PAGE_HEAD).
RESUME_SKETCHPAD_JS = "() => { window.digitInk.resume(); }"
#: "Read it", and the Draw tab chosen: read the canvas as it is now.
READ_NOW_JS = "() => { window.digitInk.changed(); }"
#: On load, the empty canvas is sent once: the page's queue connection is open and the reading path
#: warm before the first stroke (the first drawing of a page was the slowest to answer: 1.5-6.9 s
#: under load against 0.9-1.6 s for the next ones).
WARM_UP_JS = "() => { setTimeout(() => window.digitInk.changed(), 800); }"
