// The entity graph as SVG: a few hundred steps of a spring layout, nodes you can tab to and
// drag; each node's links are listed in its title for screen readers.
import { h } from '../ui';

const NS = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export function graph(entities: any[], links: any[]): HTMLElement {
  const W = 640, H = 360;
  const nodes = entities.map((e, i) => ({ e, x: W / 2 + Math.cos(i) * 120, y: H / 2 + Math.sin(i) * 120, vx: 0, vy: 0 }));
  const index = new Map(nodes.map((n) => [n.e.id, n]));
  const edges = links.filter((l) => index.has(l.from_id) && index.has(l.to_id)).map((l) => ({ l, a: index.get(l.from_id)!, b: index.get(l.to_id)! }));
  for (let step = 0; step < 300; step++) {
    for (const a of nodes) for (const b of nodes) {
      if (a === b) continue;
      const dx = a.x - b.x, dy = a.y - b.y, d2 = Math.max(dx * dx + dy * dy, 25);
      a.vx += (dx / d2) * 400; a.vy += (dy / d2) * 400;
    }
    for (const { a, b } of edges) {
      const dx = b.x - a.x, dy = b.y - a.y;
      a.vx += dx * 0.01; a.vy += dy * 0.01; b.vx -= dx * 0.01; b.vy -= dy * 0.01;
    }
    for (const n of nodes) {
      n.vx += (W / 2 - n.x) * 0.005; n.vy += (H / 2 - n.y) * 0.005;
      n.x = Math.min(W - 20, Math.max(20, n.x + n.vx * 0.5)); n.y = Math.min(H - 20, Math.max(20, n.y + n.vy * 0.5));
      n.vx *= 0.6; n.vy *= 0.6;
    }
  }
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'group', 'aria-label': `Graph of ${nodes.length} entities and ${edges.length} links`, class: 'graph' });
  const lines = edges.map(({ l, a, b }) => {
    const line = svg('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: 'edge' });
    line.append(Object.assign(svg('title', {}), { textContent: l.relation }));
    root.append(line);
    return { line, a, b };
  });
  for (const n of nodes) {
    const related = edges.filter((x) => x.a === n || x.b === n).map((x) => `${x.l.relation} ${(x.a === n ? x.b : x.a).e.name}`);
    const g = svg('g', { tabindex: 0, role: 'img', 'aria-label': `${n.e.name} (${n.e.entity_type})${related.length ? ': ' + related.join(', ') : ''}; arrow keys move it`, class: 'node' });
    const circle = svg('circle', { cx: n.x, cy: n.y, r: 9 });
    const label = svg('text', { x: n.x + 12, y: n.y + 4 });
    label.textContent = n.e.name;
    g.append(circle, label);
    root.append(g);
    const place = (x: number, y: number) => {
      n.x = Math.min(W - 10, Math.max(10, x)); n.y = Math.min(H - 10, Math.max(10, y));
      circle.setAttribute('cx', String(n.x)); circle.setAttribute('cy', String(n.y));
      label.setAttribute('x', String(n.x + 12)); label.setAttribute('y', String(n.y + 4));
      for (const x of lines) if (x.a === n || x.b === n) {
        x.line.setAttribute('x1', String(x.a.x)); x.line.setAttribute('y1', String(x.a.y));
        x.line.setAttribute('x2', String(x.b.x)); x.line.setAttribute('y2', String(x.b.y));
      }
    };
    // The keyboard moves a focused node as the pointer drags it.
    g.addEventListener('keydown', (e) => {
      const step: Record<string, [number, number]> = { ArrowLeft: [-10, 0], ArrowRight: [10, 0], ArrowUp: [0, -10], ArrowDown: [0, 10] };
      const d = step[e.key];
      if (!d) return;
      e.preventDefault();
      place(n.x + d[0], n.y + d[1]);
    });
    g.addEventListener('pointerdown', (down) => {
      const box = (root as unknown as SVGSVGElement).getBoundingClientRect();
      const move = (e: PointerEvent) => place(((e.clientX - box.left) / box.width) * W, ((e.clientY - box.top) / box.height) * H);
      const up = () => { window.removeEventListener('pointermove', move); window.removeEventListener('pointerup', up); };
      window.addEventListener('pointermove', move); window.addEventListener('pointerup', up);
      down.preventDefault();
    });
  }
  return h('div', { class: 'graph-wrap' }, root as unknown as Node);
}
