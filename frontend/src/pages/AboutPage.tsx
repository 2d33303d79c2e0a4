import { useEffect, useState } from 'react';
import { useApi } from '../api/ApiContext';
import type { ModelInfo } from '../api/types';
import { useI18n, type Translate } from '../i18n/I18nContext';
import type { MessageKey } from '../i18n/messages';
import { formatFigure, limitLines, modelDetails, modelFacts, type ModelFact } from '../lib/modelCard';

type ModelCardState = { kind: 'loading' } | { kind: 'loaded'; info: ModelInfo } | { kind: 'failed'; message: string };

/** Our words for a field when we have them; fields we don't know are shown by their own name. */
function wordsFor(t: Translate, kind: 'field' | 'group', name: string): string {
  const key = `about.${kind}.${name}` as MessageKey;
  const words = t(key);
  return words === key ? name : words;
}

function fieldLabel(t: Translate, fact: ModelFact): string {
  const dot = fact.name.lastIndexOf('.');
  const group = dot > 0 ? wordsFor(t, 'group', fact.name.slice(0, dot)) + ' · ' : '';
  return group + wordsFor(t, 'field', fact.field);
}

function FactList({ facts, testId }: { facts: ModelFact[]; testId: string }) {
  const { t } = useI18n();
  return (
    <dl className="facts" data-testid={testId}>
      {facts.map((fact) => (
        <div key={fact.name} className="fact" data-field={fact.name}>
          <dt>{fieldLabel(t, fact)}</dt>
          <dd>{formatFigure(fact.field, fact.value)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The card's plots as GET /api/model lists them (`plots`: key -> PNG file name); anything else is ignored. */
function plotsOf(info: ModelInfo): [string, string][] {
  const plots = info.plots;
  if (!plots || typeof plots !== 'object' || Array.isArray(plots)) return [];
  return Object.entries(plots as Record<string, unknown>).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string' && /^[\w.-]+\.png$/i.test(entry[1]),
  );
}

/** Words for a plot, by the kind its key names (roc…, calibration…, cdr…), else its own name. */
function plotAlt(t: Translate, key: string): string {
  const kind = /^roc/i.test(key) ? 'roc' : /^calib|reliab/i.test(key) ? 'calibration' : /cdr/i.test(key) ? 'cdr' : null;
  return kind ? t(`about.plot.${kind}` as MessageKey) : t('about.plot.other', { name: key });
}

function PlotFigure({ name, src, alt }: { name: string; src: string; alt: string }) {
  const [failed, setFailed] = useState(false);
  if (failed) return null;
  return (
    <figure className="model-plot" data-plot={name}>
      <img
        src={src}
        alt={alt}
        width={600}
        height={450}
        loading="lazy"
        style={{ maxWidth: '100%', height: 'auto' }}
        onError={() => setFailed(true)}
      />
    </figure>
  );
}

export function AboutPage() {
  const { t } = useI18n();
  const api = useApi();
  const [card, setCard] = useState<ModelCardState>({ kind: 'loading' });

  useEffect(() => {
    let current = true;
    api.getModelInfo().then(
      (info) => current && setCard({ kind: 'loaded', info: info ?? {} }),
      (error: unknown) => current && setCard({ kind: 'failed', message: error instanceof Error ? error.message : String(error) }),
    );
    return () => {
      current = false;
    };
  }, [api]);

  // The plots are pictures, not facts: listed below as images, not as file names among the details.
  const info: ModelInfo | null = card.kind === 'loaded' ? { ...card.info, plots: undefined } : null;
  const plots = card.kind === 'loaded' ? plotsOf(card.info) : [];
  const facts: ModelFact[] = info ? modelFacts(info) : [];
  const details: ModelFact[] = info ? modelDetails(info) : [];
  const limits = card.kind === 'loaded' ? limitLines(card.info.limits) : [];

  return (
    <article className="prose">
      <h1 tabIndex={-1}>{t('about.title')}</h1>
      <section aria-labelledby="about-what">
        <h2 id="about-what">{t('about.whatTitle')}</h2>
        <p>{t('about.whatText')}</p>
        {details.length > 0 && <FactList facts={details} testId="model-details" />}
      </section>

      <section aria-labelledby="about-performance" data-testid="model-card" aria-busy={card.kind === 'loading'}>
        <h2 id="about-performance">{t('about.performanceTitle')}</h2>
        <p>{t('about.performanceIntro')}</p>
        {card.kind === 'loading' && <p role="status">{t('about.loading')}</p>}
        {card.kind === 'failed' && <p className="notice">{t('about.unavailable', { message: card.message })}</p>}
        {card.kind === 'loaded' && (
          <>
            {facts.length === 0 ? (
              <p>{t('about.noMetrics')}</p>
            ) : (
              <FactList facts={facts} testId="model-figures" />
            )}
          </>
        )}
      </section>

      {plots.length > 0 && (
        <section aria-labelledby="about-plots" data-testid="model-plots">
          <h2 id="about-plots">{t('about.plotsTitle')}</h2>
          <p>{t('about.plotsIntro')}</p>
          {plots.map(([key, file]) => (
            <PlotFigure
              key={key}
              name={key}
              src={api.resolve(`/api/model/plots/${encodeURIComponent(file)}`)}
              alt={plotAlt(t, key)}
            />
          ))}
        </section>
      )}

      <section aria-labelledby="about-limits">
        <h2 id="about-limits">{t('about.limitsTitle')}</h2>
        <p>{t('about.limitsText')}</p>
        {limits.length > 0 && (
          <ul data-testid="model-limits">
            {limits.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="about-data">
        <h2 id="about-data">{t('about.dataTitle')}</h2>
        <p>{t('about.dataText')}</p>
      </section>

      <section aria-labelledby="about-source">
        <h2 id="about-source">{t('about.sourceTitle')}</h2>
        <p>{t('about.sourceText')}</p>
      </section>
    </article>
  );
}
