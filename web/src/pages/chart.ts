// A bar chart as SVG with a table fallback for screen readers (the same numbers).
import { h } from '../ui';

const NS = 'http://www.w3.org/2000/svg';

export function bars(title: string, points: { label: string; value: number }[], format: (n: number) => string): HTMLElement {
  const W = 640, H = 200, pad = 28;
  const max = Math.max(...points.map((p) => p.value), 0) || 1;
  const root = document.createElementNS(NS, 'svg');
  root.setAttribute('viewBox', `0 0 ${W} ${H + pad}`);
  root.setAttribute('role', 'img');
  root.setAttribute('aria-label', `${title}: ${points.map((p) => `${p.label} ${format(p.value)}`).join(', ')}`);
  root.setAttribute('class', 'chart');
  const width = (W - pad) / Math.max(points.length, 1);
  points.forEach((p, i) => {
    const height = (p.value / max) * (H - pad);
    const rect = document.createElementNS(NS, 'rect');
    rect.setAttribute('x', String(pad + i * width + 2));
    rect.setAttribute('y', String(H - height));
    rect.setAttribute('width', String(Math.max(width - 4, 1)));
    rect.setAttribute('height', String(height));
    const tip = document.createElementNS(NS, 'title');
    tip.textContent = `${p.label}: ${format(p.value)}`;
    rect.append(tip);
    root.append(rect);
    if (points.length <= 14 || i % Math.ceil(points.length / 14) === 0) {
      const t = document.createElementNS(NS, 'text');
      t.setAttribute('x', String(pad + i * width + width / 2));
      t.setAttribute('y', String(H + 18));
      t.setAttribute('text-anchor', 'middle');
      t.textContent = p.label.slice(5);
      root.append(t);
    }
  });
  const axis = document.createElementNS(NS, 'text');
  axis.setAttribute('x', '2');
  axis.setAttribute('y', '12');
  axis.textContent = format(max);
  root.append(axis);
  return h('figure', { class: 'chart-box' }, h('figcaption', {}, title), root as unknown as Node);
}
