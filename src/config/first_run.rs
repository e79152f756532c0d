//! What the server does when no model is configured: which loopback ports it tries for an
//! OpenAI-compatible server (Ollama, LM Studio, llama.cpp, vLLM), how long it waits for one,
//! and whether it falls back to the built-in demo model.

use std::time::Duration;

use super::{ConfigError, parse};

/// The usual ports of local model servers, tried in this order: Ollama, LM Studio, llama.cpp
/// server, vLLM.
pub const USUAL_PORTS: [u16; 4] = [11434, 1234, 8080, 8000];

#[derive(Debug, Clone)]
pub struct FirstRunSettings {
    /// `CHATKIT_PROBE_PORTS`: loopback ports asked for `/v1/models`, first answer wins
    /// (`none` asks none). The server's own port is skipped.
    pub probe_ports: Vec<u16>,
    /// `CHATKIT_PROBE_TIMEOUT_MS`: how long one port may take to answer.
    pub probe_timeout: Duration,
    /// `CHATKIT_DEMO_MODEL`: answer with the built-in demo model when no model is configured
    /// and none is found; off, such a server ends each turn with an error instead.
    pub demo_model: bool,
}

impl FirstRunSettings {
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<FirstRunSettings, ConfigError> {
        const VAR: &str = "CHATKIT_PROBE_PORTS";
        let probe_ports = match parse::list(get, VAR) {
            None => USUAL_PORTS.to_vec(),
            Some(list) if list.len() == 1 && list[0].eq_ignore_ascii_case("none") => vec![],
            Some(list) => list
                .iter()
                .map(|port| match port.parse::<u16>() {
                    Ok(port) if port > 0 => Ok(port),
                    _ => Err(ConfigError::new(
                        VAR,
                        format!("'{port}' is not a port (or write 'none')"),
                    )),
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(FirstRunSettings {
            probe_ports,
            probe_timeout: parse::millis(get, "CHATKIT_PROBE_TIMEOUT_MS", 300, 10, 10_000)?,
            demo_model: parse::flag(get, "CHATKIT_DEMO_MODEL", true)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::USUAL_PORTS;

    #[test]
    fn probe_ports_and_the_demo_model() {
        let s = settings(&[]).unwrap().first_run;
        assert_eq!(s.probe_ports, USUAL_PORTS);
        assert!(s.demo_model);
        assert_eq!(s.probe_timeout.as_millis(), 300);
        let s = settings(&[
            ("CHATKIT_PROBE_PORTS", "none"),
            ("CHATKIT_DEMO_MODEL", "off"),
        ])
        .unwrap()
        .first_run;
        assert!(s.probe_ports.is_empty() && !s.demo_model);
        let s = settings(&[("CHATKIT_PROBE_PORTS", "9000, 9001")])
            .unwrap()
            .first_run;
        assert_eq!(s.probe_ports, [9000, 9001]);
        for bad in ["0", "x", "70000"] {
            let e = settings(&[("CHATKIT_PROBE_PORTS", bad)]).unwrap_err();
            assert_eq!(e.var, "CHATKIT_PROBE_PORTS");
        }
    }
}
