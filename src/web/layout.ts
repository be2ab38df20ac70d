import { escapeHtml } from '../lib/html-escape.js';

/** Escapes text for HTML content and attribute values (src/lib/html-escape.ts). */
export const esc = escapeHtml;

/** A trusted HTML fragment (already escaped). */
export class Html {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

/** Tagged template that escapes every interpolated value unless it is Html. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    const part = Array.isArray(v) ? v.map((x) => (x instanceof Html ? x.html : esc(x))).join('') : v instanceof Html ? v.html : esc(v);
    out += part + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

const STYLE = `
:root{--fg:#1d2430;--muted:#5b6574;--line:#d9dee6;--accent:#2f5fd0;--bad:#b3261e;--bg:#f6f7f9}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem;padding:.7rem 1.5rem;background:#fff;border-bottom:1px solid var(--line)}
header .brand{display:inline-flex;align-items:center;gap:.4rem;font-weight:700;letter-spacing:.02em;color:var(--fg);text-decoration:none}header .brand img{width:28px;height:28px}
header nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem;flex:1}
header .account{display:flex;gap:.8rem;align-items:center;margin-left:auto;min-width:0}header .who{min-width:0;max-width:14rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
header a{color:var(--muted);text-decoration:none}header a:hover{color:var(--accent)}
main{max-width:60rem;margin:2rem auto;padding:0 1.5rem}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1.5rem;margin-bottom:1.5rem}
h1{font-size:1.4rem;margin:0 0 1rem}h2{font-size:1.1rem;margin:0 0 .8rem}
label{display:block;font-weight:600;margin:.8rem 0 .3rem}input[type=text],input[type=password],select{width:100%;padding:.5rem .6rem;border:1px solid var(--line);border-radius:6px;font:inherit}
button,.button{display:inline-block;padding:.45rem 1rem;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:6px;font:inherit;cursor:pointer;text-decoration:none}
button.secondary,.button.secondary{background:#fff;color:var(--accent)}button.danger{background:var(--bad);border-color:var(--bad)}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.45rem .4rem;border-bottom:1px solid var(--line)}th{color:var(--muted);font-weight:600}
td{overflow-wrap:break-word}td.wrap{overflow-wrap:anywhere;min-width:7rem}.table-scroll{overflow-x:auto;max-width:100%}
time,.nowrap,button,.button{white-space:nowrap}
.error{color:var(--bad);background:#fdecea;border:1px solid #f5c6c2;padding:.6rem .8rem;border-radius:6px;margin-bottom:1rem}
.muted{color:var(--muted)}code,.token{font-family:ui-monospace,monospace;background:#eef1f5;padding:.1rem .3rem;border-radius:4px}
.progress{height:10px;background:#e6e9ef;border-radius:5px;overflow:hidden}.progress>div{height:100%;width:0;background:var(--accent);transition:width .3s}
ul.log{list-style:none;padding:0;font-size:.9rem;color:var(--muted)}form.inline{display:inline}
.login{max-width:24rem;margin:4rem auto}
pre.log-tail{background:#1d2430;color:#e6e9ef;padding:.8rem;border-radius:6px;font-size:.8rem;max-height:28rem;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.error{overflow-wrap:anywhere}code{overflow-wrap:anywhere}
@media (max-width:40rem){header{gap:.4rem 1rem;padding:.6rem 1rem}header nav{order:3;flex-basis:100%}header .account{flex:1 1 0;justify-content:flex-end}header .who{max-width:none}.hide-narrow{display:none}
main{margin:1rem auto;padding:0 .75rem}.card{padding:1rem}.login{margin:1.5rem auto}}
`;

export interface PageOptions {
  title: string;
  hubPrefix: string;
  user?: { name: string; admin: boolean } | undefined;
}

/** A timestamp from the store (ISO 8601, UTC) as a short `<time>`: minutes shown, the full value in its title. */
export function when(iso: string | null | undefined, none = 'never'): Html {
  if (!iso) return html`${none}`;
  const short = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return html`<time datetime="${iso}" title="${iso}">${short ? `${short[1]} ${short[2]} UTC` : iso}</time>`;
}

/** The page shell shared by every hub page. */
export function page(opts: PageOptions, body: Html): string {
  const p = opts.hubPrefix;
  const nav = opts.user
    ? html`<nav><a href="${p}home">Home</a><a href="${p}token">Token</a>${opts.user.admin ? html`<a href="${p}admin">Admin</a>` : ''}</nav>
      <span class="account"><span class="muted who" title="${opts.user.name}">${opts.user.name}</span><a href="${p}logout">Logout</a></span>`
    : html`<nav></nav>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(opts.title)} — Ganymede</title><link rel="icon" href="${esc(p)}favicon.ico"><style>${STYLE}</style></head>
<body><header><a class="brand" href="${esc(p)}home"><img src="${esc(p)}logo" alt="">Ganymede</a>${nav.html}</header><main>${body.html}</main></body></html>`;
}
