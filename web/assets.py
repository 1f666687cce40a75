"""Page styles and the small scripts the page runs in the browser."""

#: Page styles (``launch(css=PAGE_CSS)``): no zoom, pan or colour controls on the canvas (there is
#: one colour, and zooming a canvas this size helps no one), no page chrome crowding a phone.
PAGE_CSS = """
#sketchpad button[aria-label="Pan"], #sketchpad button[aria-label="Zoom in"],
#sketchpad button[aria-label="Zoom out"], #sketchpad .zoom-number,
#sketchpad button[aria-label="Color"] { display: none !important; }
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
#: After each stroke (pointer up), an undo or redo, and a cleared canvas, it reads the pixels the
#: sketchpad shows, crops them to the ink's box with a margin, reduces the crop to at most
#: ``INK_SIDE`` pixels and sends it as a PNG of a few kilobytes, through the hidden ``#ink-read``
#: button's event (``web.handlers.ink_on_page``). The sketchpad itself sends nothing: with no change
#: event attached it never encodes its full-size layers (``toBlob``, ~170 ms each at 800x400) nor
#: uploads them. Every payload carries the page's sequence number (``seq``), one more for each
#: payload; the server drops a payload older than one it has already shown (``Page.seq``). A check a
#: moment after each payload sends again if the canvas still changed meanwhile (a frame drawn late).
#:
#: The sketchpad draws with WebGL, which clears what it showed once the frame is on screen; the
#: first lines keep it (``preserveDrawingBuffer``) so that the page can read it.
INK_SIDE = 256
#: The sketchpad's canvas: square, so that on a phone (390 px wide) it is drawn at least 300x300
#: CSS pixels; a number of four or five digits still fits side by side.
CANVAS_SIZE = (600, 600)
PAGE_HEAD = (
    """
<style>
/* a phone: the page's own margins (outside what launch(css=) reaches) give the canvas their room */
@media (max-width: 640px) { .main.app { padding-left: 6px !important; padding-right: 6px !important; } }
</style>
<script>
(() => {
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, options) {
    if (typeof type === 'string' && type.includes('webgl'))
      options = Object.assign({}, options || {}, {preserveDrawingBuffer: true});
    return getContext.call(this, type, options);
  };
  const INK_SIDE = """
    + str(INK_SIDE)
    + """, CANVAS = """
    + str(list(CANVAS_SIZE))
    + """;
  const ink = window.digitInk = {seq: 0, dirty: false, sent: null, timer: null, cleared: false};
  // The ink the sketchpad shows, cropped to its box with a margin: a PNG data URL, or null.
  ink.snapshot = () => {
    const shown = document.querySelector('#sketchpad canvas');
    if (!shown || !shown.width || !shown.height) return null;
    const full = document.createElement('canvas');
    full.width = shown.width; full.height = shown.height;
    const pen = full.getContext('2d', {willReadFrequently: true});
    pen.fillStyle = '#fff'; pen.fillRect(0, 0, full.width, full.height);
    pen.drawImage(shown, 0, 0);
    const image = pen.getImageData(0, 0, full.width, full.height), pixels = image.data;
    const box = ink.strokesOnly(pixels, full.width, full.height);
    if (!box) return null;
    pen.putImageData(image, 0, 0);
    let {left, right, top, bottom} = box;
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
  // The brush's hover ring (a 1 px circle where the pointer rests, drawn on the same canvas) is not
  // ink: it was read as a "0 (100% sure)" on an empty canvas. Ink is dark pixels within 3 px of a
  // solid one (dark 2 px away on all four sides: a brush stroke is several pixels wide, the ring
  // one); the rest turns to paper in ``pixels``. -> the ink's box, or null when there is none.
  ink.strokesOnly = (pixels, w, h) => {
    const n = w * h, dark = new Uint8Array(n), solid = new Uint8Array(n), near = new Uint8Array(n), R = 3;
    for (let p = 0; p < n; p++) dark[p] = pixels[4 * p] + pixels[4 * p + 1] + pixels[4 * p + 2] < 384 ? 1 : 0;
    for (let y = 2; y < h - 2; y++) for (let x = 2, p = y * w + 2; x < w - 2; x++, p++)
      solid[p] = dark[p] & dark[p - 2] & dark[p + 2] & dark[p - 2 * w] & dark[p + 2 * w];
    const across = new Uint8Array(n);  // solid dilated by R, rows then columns
    for (let y = 0; y < h; y++) for (let x = 0, run = -1e9; x < w; x++) { if (solid[y * w + x]) run = x; if (x - run <= R) across[y * w + x] = 1; }
    for (let y = 0; y < h; y++) for (let x = w - 1, run = 1e9; x >= 0; x--) { if (solid[y * w + x]) run = x; if (run - x <= R) across[y * w + x] = 1; }
    for (let x = 0; x < w; x++) for (let y = 0, run = -1e9; y < h; y++) { if (across[y * w + x]) run = y; if (y - run <= R) near[y * w + x] = 1; }
    for (let x = 0; x < w; x++) for (let y = h - 1, run = 1e9; y >= 0; y--) { if (across[y * w + x]) run = y; if (run - y <= R) near[y * w + x] = 1; }
    let left = w, right = -1, top = h, bottom = -1;
    for (let p = 0; p < n; p++) {
      if (!dark[p]) continue;
      if (!near[p]) { pixels[4 * p] = pixels[4 * p + 1] = pixels[4 * p + 2] = 255; continue; }
      const x = p % w, y = (p - x) / w;
      if (x < left) left = x; if (x > right) right = x;
      if (y < top) top = y; if (y > bottom) bottom = y;
    }
    return right < 0 ? null : {left: left, right: right, top: top, bottom: bottom};
  };
  // The payload of the next reading: the drawing shown now, with the next sequence number.
  ink.payload = () => {
    const png = ink.cleared ? null : ink.snapshot();
    ink.seq += 1; ink.dirty = false; ink.sent = png; ink.sentAt = performance.now();
    clearTimeout(ink.timer);
    ink.timer = setTimeout(() => { if (!ink.dirty && !ink.cleared && ink.snapshot() !== ink.sent) ink.changed(); }, 400);
    return JSON.stringify({seq: ink.seq, png: png});
  };
  // Another tab's answer is shown from now on: no drawing sent before may replace it.
  ink.bump = () => { ink.seq += 1; return JSON.stringify({seq: ink.seq, png: null}); };
  // What a flag applies to: the drawing last sent, or one not read yet when it has changed since.
  ink.flagged = () => JSON.stringify({seq: ink.dirty ? ink.seq + 1 : ink.seq, png: null});
  // The canvas changed: read it at the next frame, once the sketchpad's own frame callback has drawn
  // the stroke (a second frame cost 100-150 ms in headless chromium; a frame drawn later is caught
  // by the check after the payload).
  ink.changed = () => {
    ink.dirty = true;
    requestAnimationFrame(() => {
      const button = document.getElementById('ink-read');
      if (button) button.click();
    });
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
  // A stroke that starts beside the canvas (the sketchpad ignores it) starts at the canvas's edge.
  document.addEventListener('pointerdown', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!event.isTrusted || !target || !target.closest('#sketchpad') || target.closest('button, label, input')) return;
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
  let drawing = false;
  const inside = (event) => event.target instanceof Element && event.target.closest('#sketchpad');
  document.addEventListener('pointerdown', (event) => {
    drawing = !!inside(event);
    if (drawing && !(event.target.closest && event.target.closest('button'))) ink.cleared = false;
  }, true);
  document.addEventListener('pointerup', () => { if (drawing) { drawing = false; ink.changed(); } }, true);
  document.addEventListener('pointercancel', () => { if (drawing) { drawing = false; ink.changed(); } }, true);
  document.addEventListener('click', (event) => {
    const button = inside(event) && event.target.closest('button');
    const name = button ? button.getAttribute('aria-label') || '' : '';
    // A cleared canvas is empty, whenever the sketchpad gets round to drawing it so.
    if (name === 'Clear canvas') ink.cleared = true;
    else if (name === 'Undo' || name === 'Redo') ink.cleared = false;
    if (/Undo|Redo|Clear canvas/.test(name)) ink.changed();
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
#: "Read it", and the Draw tab chosen: read the canvas as it is now.
READ_NOW_JS = "() => { window.digitInk.changed(); }"
#: On load, the empty canvas is sent once: the page's queue connection is open and the reading path
#: warm before the first stroke (the first drawing of a page was the slowest to answer: 1.5-6.9 s
#: under load against 0.9-1.6 s for the next ones).
WARM_UP_JS = "() => { setTimeout(() => window.digitInk.changed(), 800); }"
