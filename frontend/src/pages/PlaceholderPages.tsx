import { useI18n } from '../i18n/I18nContext';
import { ROUTE_HREF } from '../lib/hashRoute';

/** /admin is reserved for the administration pages (signed-in reviewers), to come. */
export function AdminPage() {
  const { t } = useI18n();
  return (
    <article className="prose">
      <h1 tabIndex={-1}>{t('admin.title')}</h1>
      <p>{t('admin.placeholder')}</p>
    </article>
  );
}

export function NotFoundPage() {
  const { t } = useI18n();
  return (
    <article className="prose">
      <h1 tabIndex={-1}>{t('notFound.title')}</h1>
      <p>{t('notFound.text')}</p>
      <p>
        <a href={ROUTE_HREF.screen}>{t('notFound.home')}</a>
      </p>
    </article>
  );
}
