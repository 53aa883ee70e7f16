//! The command-line tools that need no window: `token show` and `simulate`.

use std::io::Write;

use crate::cli::{Command, SimulateArgs, TokenAction};
use crate::secrets::Keyring;
use crate::simulate;

/// Runs a subcommand, printing results to stdout and problems to stderr; returns the exit code.
pub fn run(command: &Command, keyring: &Keyring) -> u8 {
    match command {
        Command::Token {
            action: TokenAction::Show,
        } => match keyring.pairing_token() {
            Ok(token) => {
                println!("{}", token.expose());
                0
            }
            Err(e) => {
                eprintln!("call-companion: {e}");
                69
            }
        },
        Command::Simulate(args) => run_simulate(args, keyring),
    }
}

fn run_simulate(args: &SimulateArgs, keyring: &Keyring) -> u8 {
    if args.scenario.as_deref() == Some("list") {
        for name in simulate::scenario_names() {
            let description = simulate::scenario(name)
                .map(|s| s.description)
                .unwrap_or_else(|e| e.to_string());
            println!("{name:<20} {description}");
        }
        return 0;
    }
    let result = simulate::posts(args, std::io::stdin().lock()).and_then(|posts| {
        let token = keyring.pairing_token()?;
        simulate::send(&posts, args.port, token.expose(), |answer| {
            println!("{} {}", answer.status, answer.body);
            let _ = std::io::stdout().flush();
        })
    });
    match result {
        Ok(answers) if answers.iter().all(|a| (200..300).contains(&a.status)) => 0,
        // The app refused a payload: its answer is printed above.
        Ok(_) => 1,
        Err(e) => {
            eprintln!("call-companion: {e}");
            e.exit_code()
        }
    }
}
