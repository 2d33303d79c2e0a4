import { CropExamplesFigure, FundusAnatomyFigure, PhotoQualityFigure } from '../components/GuideFigures';
import { useI18n } from '../i18n/I18nContext';
import { ROUTE_HREF } from '../lib/hashRoute';

export function GuidePage() {
  const { t } = useI18n();
  return (
    <article className="prose">
      <h1 tabIndex={-1}>{t('guide.title')}</h1>
      <p>{t('guide.intro')}</p>

      <section aria-labelledby="guide-disc">
        <h2 id="guide-disc">{t('guide.discTitle')}</h2>
        <p>{t('guide.discText')}</p>
        <FundusAnatomyFigure />
      </section>

      <section aria-labelledby="guide-photo">
        <h2 id="guide-photo">{t('guide.photoTitle')}</h2>
        <ul>
          <li>{t('guide.photoTip1')}</li>
          <li>{t('guide.photoTip2')}</li>
          <li>{t('guide.photoTip3')}</li>
          <li>{t('guide.photoTip4')}</li>
        </ul>
        <PhotoQualityFigure />
      </section>

      <section aria-labelledby="guide-crop">
        <h2 id="guide-crop">{t('guide.cropTitle')}</h2>
        <p>{t('guide.cropText')}</p>
        <CropExamplesFigure />
        <p>{t('guide.autoText')}</p>
      </section>

      <p>
        <a className="button primary" href={ROUTE_HREF.screen}>
          {t('guide.start')}
        </a>
      </p>
    </article>
  );
}
