import type { Theme } from './bindings';

/** Applies the theme: `system` leaves it to `prefers-color-scheme` in app.css. */
export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  if (theme === 'system') {
    delete root.dataset.theme;
  } else {
    root.dataset.theme = theme;
  }
}
