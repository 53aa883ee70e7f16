use clap::error::ErrorKind;
use companion::cli::Cli;
use companion::language::LanguageChoice;
use companion::status::Theme;

#[test]
fn defaults() {
    let cli = Cli::try_parse_args(["call-companion"]).unwrap();
    assert_eq!(cli.theme, Theme::System);
    assert_eq!(cli.lang, LanguageChoice::Auto);
}

#[test]
fn theme_and_language_flags() {
    let cli = Cli::try_parse_args(["call-companion", "--theme", "dark", "--lang", "ru"]).unwrap();
    assert_eq!(cli.theme, Theme::Dark);
    assert_eq!(cli.lang, LanguageChoice::Ru);
}

#[test]
fn version_and_help_are_answers_not_failures() {
    let version = Cli::try_parse_args(["call-companion", "--version"]).unwrap_err();
    assert_eq!(version.kind(), ErrorKind::DisplayVersion);
    assert!(version.to_string().contains(companion::app::VERSION));
    let help = Cli::try_parse_args(["call-companion", "--help"]).unwrap_err();
    assert_eq!(help.kind(), ErrorKind::DisplayHelp);
    assert!(help.to_string().contains("--theme"));
}

#[test]
fn unknown_value_is_a_clear_error() {
    let err = Cli::try_parse_args(["call-companion", "--theme", "purple"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    assert!(err.to_string().contains("purple"), "{err}");
}
