import { useRef, type KeyboardEvent } from 'react';
import { useI18n } from '../i18n/I18nContext';
import type { MessageKey } from '../i18n/messages';

export const ADMIN_VIEWS = ['screenings', 'models', 'monitoring', 'review'] as const;
export type AdminView = (typeof ADMIN_VIEWS)[number];

/** Each view has its own address, so a reload or a link opens it again. */
export const VIEW_HASH: Record<AdminView, string> = {
  screenings: '#/admin',
  models: '#/admin/models',
  monitoring: '#/admin/monitoring',
  review: '#/admin/review',
};

const VIEW_LABEL: Record<AdminView, MessageKey> = {
  screenings: 'admin.tab.screenings',
  models: 'admin.tab.models',
  monitoring: 'admin.tab.monitoring',
  review: 'admin.tab.review',
};

/** `#/admin/models` → "models"; `#/admin`, a screening's page and anything else → "screenings". */
export function adminView(hash: string): AdminView {
  const path = hash.replace(/^#/, '').replace(/\/+$/, '');
  const found = ADMIN_VIEWS.find((view) => view !== 'screenings' && VIEW_HASH[view] === `#${path}`);
  return found ?? 'screenings';
}

export const tabId = (view: AdminView) => `admin-tab-${view}`;
export const panelId = (view: AdminView) => `admin-panel-${view}`;

interface AdminTabsProps {
  view: AdminView;
  onSelect: (view: AdminView) => void;
  /** The tabs shown, in order: all of them unless the account may use fewer. */
  views?: readonly AdminView[];
}

/**
 * The admin panel's sections as tabs (WAI-ARIA tabs, activated on focus): Tab reaches the selected
 * one, the arrow keys, Home and End move between them.
 */
export function AdminTabs({ view, onSelect, views = ADMIN_VIEWS }: AdminTabsProps) {
  const { t } = useI18n();
  const refs = useRef<Partial<Record<AdminView, HTMLButtonElement | null>>>({});

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    const index = views.indexOf(view);
    const last = views.length - 1;
    const next =
      event.key === 'ArrowRight' ? (index + 1) % views.length : event.key === 'ArrowLeft' ? (index + last) % views.length : event.key === 'Home' ? 0 : event.key === 'End' ? last : null;
    if (next === null) return;
    event.preventDefault();
    const target = views[next] ?? view;
    onSelect(target);
    refs.current[target]?.focus();
  }

  return (
    <div className="admin-tabs" role="tablist" aria-label={t('admin.tabs.label')} onKeyDown={onKeyDown} data-testid="admin-tabs">
      {views.map((item) => (
        <button
          key={item}
          ref={(node) => {
            refs.current[item] = node;
          }}
          type="button"
          role="tab"
          id={tabId(item)}
          aria-selected={item === view}
          aria-controls={panelId(item)}
          tabIndex={item === view ? 0 : -1}
          onClick={() => onSelect(item)}
          data-testid={tabId(item)}
        >
          {t(VIEW_LABEL[item])}
        </button>
      ))}
    </div>
  );
}
