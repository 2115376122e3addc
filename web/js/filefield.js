// A photo field that speaks Chinese. The browser's own file input shows its button and "no file"
// text in the browser's language ("Choose File", "No file chosen"), which no page can change: the
// input stays (focusable, hidden from sight, so keyboards, screen readers and tests use it as
// before) and a Chinese button and the chosen file's name are drawn beside it.

import { escapeHtml } from './info.js';

/** HTML of a photo field: `name` of the input, its `label`, and an optional extra class. */
export function fileField({ name, label, accept = 'image/jpeg,image/png,image/webp', className = '' }) {
  return `<label class="file-field ${className}">${escapeHtml(label)}
    <input type="file" class="sr-only" name="${escapeHtml(name)}" accept="${escapeHtml(accept)}" capture="environment">
    <span class="file-row"><span class="file-button" aria-hidden="true">拍照或选择照片</span>
    <span class="file-name" aria-live="polite">未选择照片</span></span></label>`;
}

// One listener for every field of the page, whenever it was drawn (none in plain node, where the
// tests import the page's modules for their pure helpers).
globalThis.document?.addEventListener('change', (e) => {
  const input = e.target;
  if (!(input instanceof HTMLInputElement) || input.type !== 'file') return;
  const shown = input.closest('.file-field')?.querySelector('.file-name');
  if (!shown) return;
  const file = input.files?.[0];
  shown.textContent = file ? `已选择:${file.name}(${Math.max(1, Math.round(file.size / 1024))} KB)` : '未选择照片';
});
