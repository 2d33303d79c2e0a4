import type { KeyboardEvent } from 'react';

/**
 * Keeps Tab and Shift+Tab inside a modal: from the last focusable element back to the first, and
 * from the first (or from `alsoFirst`, e.g. a focused heading) round to the last.
 */
export function wrapTabFocus(
  event: KeyboardEvent<HTMLElement>,
  container: HTMLElement | null,
  selector: string,
  alsoFirst?: HTMLElement | null,
): void {
  if (event.key !== 'Tab' || !container) return;
  const focusable = Array.from(container.querySelectorAll<HTMLElement>(selector));
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (!first || !last) return;
  const active = document.activeElement;
  if (event.shiftKey && (active === first || (alsoFirst != null && active === alsoFirst))) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && active === last) {
    event.preventDefault();
    first.focus();
  }
}
