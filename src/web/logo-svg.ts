/**
 * Ganymede's mark: a grey-brown moon with its dark region and bright craters,
 * circled by a blue orbit. Drawn for this project. Served at `/hub/logo`
 * (unless `logo_file` replaces it) and rendered into the favicon by
 * scripts/gen-favicon.ts.
 */
export const GANYMEDE_LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64"><title>Ganymede</title><circle cx="32" cy="32" r="21" fill="#9a8d7c"/><path d="M14 26c6-3 14-2 19 2s13 6 17 3c1 9-3 17-10 21-8 2-17-1-22-7-4-5-5-12-4-19z" fill="#6f6356"/><circle cx="24" cy="20" r="3" fill="#e4ddd2"/><circle cx="40" cy="42" r="2.2" fill="#e4ddd2"/><circle cx="44" cy="22" r="1.6" fill="#e4ddd2"/><ellipse cx="32" cy="32" rx="30" ry="9" fill="none" stroke="#2f5fd0" stroke-width="3.5" transform="rotate(-24 32 32)"/></svg>';
