import { useId, type ReactNode } from 'react';
import { useI18n } from '../i18n/I18nContext';

// Pictures drawn for the guide as inline SVG: no photo of a real patient is needed, they scale
// to any screen, and their labels follow the chosen language.

const VESSEL = '#9c1f12';

/** Vessels fanning out from a disc at (cx, cy), drawn for a right eye (disc on the right). */
function Vessels({ cx, cy, scale = 1 }: { cx: number; cy: number; scale?: number }) {
  const s = scale;
  return (
    <g stroke={VESSEL} fill="none" strokeLinecap="round">
      <path d={`M${cx} ${cy - 6 * s} C${cx - 40 * s} ${cy - 60 * s}, ${cx - 110 * s} ${cy - 70 * s}, ${cx - 190 * s} ${cy - 55 * s}`} strokeWidth={4 * s} />
      <path d={`M${cx} ${cy + 6 * s} C${cx - 40 * s} ${cy + 60 * s}, ${cx - 110 * s} ${cy + 70 * s}, ${cx - 190 * s} ${cy + 55 * s}`} strokeWidth={4 * s} />
      <path d={`M${cx - 4 * s} ${cy - 4 * s} C${cx - 30 * s} ${cy - 30 * s}, ${cx - 70 * s} ${cy - 25 * s}, ${cx - 120 * s} ${cy - 15 * s}`} strokeWidth={2.5 * s} />
      <path d={`M${cx - 4 * s} ${cy + 4 * s} C${cx - 30 * s} ${cy + 30 * s}, ${cx - 70 * s} ${cy + 25 * s}, ${cx - 120 * s} ${cy + 15 * s}`} strokeWidth={2.5 * s} />
      <path d={`M${cx + 4 * s} ${cy - 8 * s} C${cx + 20 * s} ${cy - 50 * s}, ${cx + 10 * s} ${cy - 90 * s}, ${cx - 10 * s} ${cy - 120 * s}`} strokeWidth={3 * s} />
      <path d={`M${cx + 4 * s} ${cy + 8 * s} C${cx + 20 * s} ${cy + 50 * s}, ${cx + 10 * s} ${cy + 90 * s}, ${cx - 10 * s} ${cy + 120 * s}`} strokeWidth={3 * s} />
    </g>
  );
}

function Fundus({ id, cx, cy, r, children }: { id: string; cx: number; cy: number; r: number; children?: ReactNode }) {
  return (
    <g>
      <defs>
        <radialGradient id={`${id}-retina`} cx="50%" cy="50%" r="50%">
          <stop offset="0%" stopColor="#e0733a" />
          <stop offset="75%" stopColor="#b8461c" />
          <stop offset="100%" stopColor="#5e1f0b" />
        </radialGradient>
        <clipPath id={`${id}-clip`}>
          <circle cx={cx} cy={cy} r={r} />
        </clipPath>
      </defs>
      <rect x={cx - r - 10} y={cy - r - 10} width={2 * r + 20} height={2 * r + 20} fill="#111" />
      <circle cx={cx} cy={cy} r={r} fill={`url(#${id}-retina)`} />
      <g clipPath={`url(#${id}-clip)`}>{children}</g>
    </g>
  );
}

function Disc({ cx, cy, r }: { cx: number; cy: number; r: number }) {
  return (
    <g>
      <ellipse cx={cx} cy={cy} rx={r} ry={r * 1.1} fill="#f6c77a" />
      <ellipse cx={cx + r * 0.1} cy={cy} rx={r * 0.45} ry={r * 0.5} fill="#fff2d6" />
    </g>
  );
}

export function FundusAnatomyFigure() {
  const { t } = useI18n();
  const id = useId().replace(/:/g, '');
  return (
    <figure className="guide-figure">
      <svg viewBox="0 0 480 320" role="img" aria-labelledby={`${id}-cap`}>
        <Fundus id={id} cx={150} cy={160} r={140}>
          <Vessels cx={240} cy={150} />
          <circle cx={120} cy={165} r={26} fill="#7a2a10" opacity={0.7} />
          <Disc cx={240} cy={150} r={26} />
        </Fundus>
        <g fontSize="16" fill="#1d2733" fontFamily="system-ui, sans-serif" stroke="none">
          <text x={318} y={84}>{t('guide.figFundusDisc')}</text>
          <text x={318} y={168}>{t('guide.figFundusCup')}</text>
          <text x={318} y={252}>{t('guide.figFundusMacula')}</text>
        </g>
        <g stroke="#1d2733" strokeWidth={1.5} fill="none">
          <polyline points="262,132 290,80 314,80" />
          <polyline points="246,152 290,164 314,164" />
          <polyline points="132,180 290,248 314,248" />
        </g>
      </svg>
      <figcaption id={`${id}-cap`}>{t('guide.figFundus')}</figcaption>
    </figure>
  );
}

export function PhotoQualityFigure() {
  const { t } = useI18n();
  const id = useId().replace(/:/g, '');
  const panels = [
    { key: 'good', label: t('guide.figGood'), ok: true },
    { key: 'blur', label: t('guide.figBlurred'), ok: false },
    { key: 'glare', label: t('guide.figGlare'), ok: false },
  ];
  return (
    <figure className="guide-figure">
      <svg viewBox="0 0 480 200" role="img" aria-labelledby={`${id}-cap`}>
        <defs>
          <filter id={`${id}-blur`}>
            <feGaussianBlur stdDeviation="5" />
          </filter>
          <radialGradient id={`${id}-glare`}>
            <stop offset="0%" stopColor="#fff" stopOpacity="1" />
            <stop offset="60%" stopColor="#fff" stopOpacity="0.85" />
            <stop offset="100%" stopColor="#fff" stopOpacity="0" />
          </radialGradient>
        </defs>
        {panels.map((panel, index) => {
          const cx = 80 + index * 160;
          return (
            <g key={panel.key}>
              <g filter={panel.key === 'blur' ? `url(#${id}-blur)` : undefined}>
                <Fundus id={`${id}-${panel.key}`} cx={cx} cy={85} r={70}>
                  <Vessels cx={cx + 35} cy={80} scale={0.5} />
                  <Disc cx={cx + 35} cy={80} r={13} />
                </Fundus>
              </g>
              {panel.key === 'glare' && <circle cx={cx + 28} cy={78} r={34} fill={`url(#${id}-glare)`} />}
              <text
                x={cx}
                y={188}
                textAnchor="middle"
                fontSize="16"
                fontWeight="600"
                fill={panel.ok ? '#0f6b2f' : '#a3200f'}
                fontFamily="system-ui, sans-serif"
              >
                {panel.ok ? '✓ ' : '✗ '}
                {panel.label}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption id={`${id}-cap`}>{t('guide.figQuality')}</figcaption>
    </figure>
  );
}

export function CropExamplesFigure() {
  const { t } = useI18n();
  const id = useId().replace(/:/g, '');
  // Each panel zooms on the same disc; only the square around it changes.
  const panels = [
    { key: 'tight', label: t('guide.figTooTight'), half: 15, ok: false },
    { key: 'right', label: t('guide.figRight'), half: 40, ok: true },
    { key: 'loose', label: t('guide.figTooLoose'), half: 66, ok: false },
  ];
  return (
    <figure className="guide-figure">
      <svg viewBox="0 0 480 200" role="img" aria-labelledby={`${id}-cap`}>
        {panels.map((panel, index) => {
          const cx = 80 + index * 160;
          const cy = 85;
          return (
            <g key={panel.key}>
              <rect x={cx - 72} y={cy - 72} width={144} height={144} rx={6} fill="#c4531f" />
              <Vessels cx={cx} cy={cy} scale={0.38} />
              <Disc cx={cx} cy={cy} r={20} />
              <rect
                x={cx - panel.half}
                y={cy - panel.half}
                width={panel.half * 2}
                height={panel.half * 2}
                fill="none"
                stroke={panel.ok ? '#ffffff' : '#1d2733'}
                strokeWidth={3}
                strokeDasharray={panel.ok ? undefined : '6 4'}
              />
              <text
                x={cx}
                y={188}
                textAnchor="middle"
                fontSize="16"
                fontWeight="600"
                fill={panel.ok ? '#0f6b2f' : '#a3200f'}
                fontFamily="system-ui, sans-serif"
              >
                {panel.ok ? '✓ ' : '✗ '}
                {panel.label}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption id={`${id}-cap`}>{t('guide.figCrop')}</figcaption>
    </figure>
  );
}
