import { useI18n } from '../i18n/I18nContext';
import { LANGUAGES, type Language } from '../i18n/messages';

/** Each language is named in itself, so a person who can't read the current one still finds theirs. */
const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', es: 'Español' };

export function LanguageSwitch() {
  const { language, setLanguage, t } = useI18n();
  return (
    <div className="language-switch" role="group" aria-label={t('lang.label')}>
      {LANGUAGES.map((option) => (
        <button
          key={option}
          type="button"
          lang={option}
          aria-pressed={language === option}
          onClick={() => setLanguage(option)}
          data-testid={`lang-${option}`}
        >
          {LANGUAGE_NAMES[option]}
        </button>
      ))}
    </div>
  );
}
