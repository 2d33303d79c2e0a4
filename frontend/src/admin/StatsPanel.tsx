import { useEffect, useState } from 'react';
import { useI18n, type Translate } from '../i18n/I18nContext';
import type { AdminApi } from './adminClient';
import { formatStat, humanize, statGroups, type StatGroup } from './format';
import { hasMessage } from './labels';

interface StatsPanelProps {
  api: AdminApi;
  onAuthError: (error: unknown) => boolean;
  reloadKey: number;
}

function groupTitle(t: Translate, key: string): string {
  if (key === '') return t('admin.stats.totals');
  const message = `admin.stats.group.${key}`;
  return hasMessage(message) ? t(message) : humanize(key);
}

/** Where to look first for a key's words, by the group it is in. */
const GROUP_VOCABULARY: Record<string, string> = {
  by_status: 'admin.status.',
  by_label: 'admin.label.',
  by_true_label: 'feedback.trueLabel.',
};

/** One key's words: a status, label or diagnosis name, a named figure, else the key made readable. */
function keyText(t: Translate, group: string, key: string): string {
  const first = GROUP_VOCABULARY[group];
  const candidates = [first ? first + key : null, `admin.stats.field.${key}`, `admin.status.${key}`, `admin.label.${key}`];
  for (const message of candidates) {
    if (message && hasMessage(message)) return t(message);
  }
  return humanize(key);
}

function pathText(t: Translate, group: string, parts: string[]): string {
  return parts.map((part) => keyText(t, group, part)).join(' › ');
}

/** GET /api/admin/stats: every figure that comes back, grouped as it comes. */
export function StatsPanel({ api, onAuthError, reloadKey }: StatsPanelProps) {
  const { t, language } = useI18n();
  const [groups, setGroups] = useState<StatGroup[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let current = true;
    setError(null);
    api.getStats().then(
      (stats) => {
        if (current) setGroups(statGroups(stats));
      },
      (caught: unknown) => {
        if (!current || onAuthError(caught)) return;
        setError(t('admin.loadFailed', { message: caught instanceof Error ? caught.message : String(caught) }));
      },
    );
    return () => {
      current = false;
    };
    // `t` and `onAuthError` are left out: a language switch must not refetch.
  }, [api, reloadKey, attempt]);

  return (
    <section className="step admin-stats" aria-labelledby="admin-stats-title" data-testid="admin-stats">
      <div className="section-heading">
        <h2 id="admin-stats-title">{t('admin.stats.title')}</h2>
        <button type="button" onClick={() => setAttempt((count) => count + 1)} data-testid="admin-stats-refresh">
          {t('admin.refresh')}
        </button>
      </div>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {!groups && !error && (
        <p role="status" className="hint">
          {t('admin.stats.loading')}
        </p>
      )}
      {groups && groups.length === 0 && <p>{t('admin.stats.empty')}</p>}
      {groups && groups.length > 0 && (
        <div className="stat-groups">
          {groups.map((group) => (
            <section key={group.key || 'totals'} className="stat-group" aria-labelledby={`stat-group-${group.key || 'totals'}`} data-testid={`stat-group-${group.key || 'totals'}`}>
              <h3 id={`stat-group-${group.key || 'totals'}`}>{groupTitle(t, group.key)}</h3>
              <dl className="facts">
                {group.items.map((item) => (
                  <div className="fact" key={item.path}>
                    <dt>{pathText(t, group.key, item.parts)}</dt>
                    <dd data-stat={group.key ? `${group.key}.${item.path}` : item.path}>
                      {formatStat(item.key, item.value, language, t('admin.yes'), t('admin.no'))}
                    </dd>
                  </div>
                ))}
              </dl>
            </section>
          ))}
        </div>
      )}
    </section>
  );
}
