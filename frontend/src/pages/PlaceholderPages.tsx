import { useI18n } from '../i18n/I18nContext';
import { ROUTE_HREF } from '../lib/hashRoute';

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
