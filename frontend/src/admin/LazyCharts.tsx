import { lazy, Suspense, type ComponentProps } from 'react';
import { useI18n } from '../i18n/I18nContext';

// recharts is loaded with the first chart shown, not with the app.
const charts = () => import('./charts');
const LazyRoc = lazy(() => charts().then((module) => ({ default: module.RocChart })));
const LazyTrend = lazy(() => charts().then((module) => ({ default: module.TrendChart })));
const LazyBars = lazy(() => charts().then((module) => ({ default: module.StackedBarChart })));

function Loading() {
  const { t } = useI18n();
  return <p className="hint chart-loading">{t('admin.chart.loading')}</p>;
}

export function RocChart(props: ComponentProps<typeof LazyRoc>) {
  return (
    <Suspense fallback={<Loading />}>
      <LazyRoc {...props} />
    </Suspense>
  );
}

export function TrendChart(props: ComponentProps<typeof LazyTrend>) {
  return (
    <Suspense fallback={<Loading />}>
      <LazyTrend {...props} />
    </Suspense>
  );
}

export function StackedBarChart(props: ComponentProps<typeof LazyBars>) {
  return (
    <Suspense fallback={<Loading />}>
      <LazyBars {...props} />
    </Suspense>
  );
}
