//! End to end with what a test may not find on every machine: headless Chromium (the injected
//! client as a person sees it), the build tools people run (Vite, esbuild, Sass from npm), a
//! socket.io chat (its npm server and client), and the operating system's help (a user namespace, a child running as `nobody`).
//!
//! A harness of its own (libtest-mimic), so that a test that cannot run here shows as *ignored*,
//! not as passed. Under `CI=true` nothing is ignored: what is missing fails the test that needs it.
//!
//! The npm tools are looked for in `$DEVSERVE_TOOLS/node_modules/.bin` (default
//! `~/.cache/devserve-tools`), where `.ci/run` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::process::ExitCode;

use libtest_mimic::{Arguments, Failed, Trial};

#[path = "../it/support.rs"]
mod support;

/// The chat example's backend, served by the tests on port 0.
#[path = "../../examples/chat/server.rs"]
mod chat;

/// The layer's example app.
#[path = "../../examples/axum_app/app.rs"]
mod axum_app;

mod os;
mod overlay;
mod pages;
mod socketio;
mod tab;
mod tabs;
mod tools;

/// What a test needs that may be missing here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    Browser,
    /// The browser and the npm build tools.
    Tools,
    /// socket.io's npm server and client (no browser).
    SocketIo,
    /// A user namespace of its own (`unshare -Ur`).
    UserNamespace,
    /// Running a child as `nobody` (`setpriv`, as root).
    Nobody,
}

/// Runs one async test on a runtime of its own, as `#[tokio::test]` would.
fn run<F: Future<Output = ()>>(test: impl FnOnce() -> F) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::from(e.to_string()))?;
    runtime.block_on(test());
    Ok(())
}

macro_rules! trials {
    ($needs:expr => $($test:path),* $(,)?) => {
        vec![$(($needs, Trial::test(stringify!($test), || run($test)))),*]
    };
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let browser = tab::chrome().exists();
    let tools = tools::installed();
    let socket_io = socketio::installed();
    let mut all = trials![Needs::Browser =>
        pages::html_save_loads_the_new_document_once,
        pages::stylesheet_save_restyles_without_navigation_or_unstyled_flash,
        pages::atomic_save_reloads_once_into_the_new_content,
        pages::burst_of_300_files_is_exactly_one_reload,
        pages::page_that_does_not_exist_yet_appears_when_created,
        pages::restarted_server_reloads_the_tab_once_without_a_loop,
        pages::scroll_position_survives_a_reload,
        pages::page_with_a_strict_csp_still_reloads,
        pages::isolated_page_has_shared_array_buffer_and_still_reloads,
        pages::https_page_over_http2_swaps_css_and_reloads,
        pages::the_layer_swaps_and_reloads_an_apps_own_pages,
        pages::the_example_axum_app_reloads_on_a_template_and_swaps_its_stylesheet,
        pages::the_layer_reloads_the_tab_when_the_app_comes_back,
        pages::chat_in_two_tabs_through_proxy_ws_survives_a_stylesheet_edit,
        pages::page_with_a_stale_token_reloads_once_then_stops_trying,
        pages::bad_gateway_page_reloads_when_the_backend_comes_up,
        pages::chat_reconnects_and_rejoins_after_the_backend_restarts,
        pages::chat_with_its_backend_under_run_restarts_and_the_tab_comes_back_once,
        tabs::only_the_tab_whose_page_changed_reloads,
        tabs::a_json_file_reloads_only_the_tab_that_fetched_it,
        tabs::a_stylesheet_is_swapped_only_where_it_is_used,
        tabs::reload_all_reloads_every_tab,
        tabs::a_listing_reloads_when_its_folder_changes,
        tabs::three_tabs_each_act_only_on_their_own_files,
        tabs::an_image_is_swapped_in_place,
        tabs::a_hidden_tab_reloads_when_shown_not_before,
        overlay::an_error_is_shown_over_the_page_as_text_and_goes_with_esc_or_clear,
        overlay::a_build_between_building_and_ok_is_one_reload_onto_the_finished_output,
        overlay::with_verbose_a_page_sends_its_uncaught_errors_and_is_not_overlaid,
        overlay::without_verbose_a_page_sends_none_of_its_errors,
    ];
    all.extend(trials![Needs::Tools =>
        tools::vite_build_watch_reloads_once_per_build_without_a_404,
        tools::esbuild_watch_into_gitignored_dist_reloads_once_with_the_new_bundle,
        tools::sass_watch_swaps_the_stylesheet_without_a_reload,
        tools::rewrites_from_a_pausing_loop_reload_once,
        tools::files_from_a_separate_process_reload_once,
    ]);
    all.extend(
        trials![Needs::SocketIo => socketio::socketio_chat_through_devserve_survives_a_backend_restart],
    );
    all.extend(trials![Needs::UserNamespace => os::out_of_inotify_watches_falls_back_to_polling]);
    all.extend(trials![Needs::Nobody => os::unreadable_folder_is_logged_and_the_rest_works]);
    let (namespaces, nobody) = (os::user_namespaces(), os::can_run_as_nobody());
    let mut missing = Vec::new();
    if !browser {
        missing.push(format!("Chromium ({})", tab::chrome().display()));
    }
    if !tools {
        missing.push(format!("npm tools ({})", tools::dir().display()));
    }
    if !socket_io {
        missing.push(format!(
            "npm socket.io and socket.io-client ({})",
            tools::dir().display()
        ));
    }
    if !namespaces {
        missing.push("user namespaces (unshare -Ur)".to_string());
    }
    if !nobody {
        missing.push("running as nobody (setpriv, as root)".to_string());
    }
    if !missing.is_empty() {
        let how = if ci { "failing" } else { "ignoring" };
        eprintln!(
            "missing {}: {how} the tests that need them",
            missing.join(" and ")
        );
    }
    let trials = all
        .into_iter()
        .map(|(needs, trial)| {
            let runnable = match needs {
                Needs::Browser => browser,
                Needs::Tools => browser && tools,
                Needs::SocketIo => socket_io,
                Needs::UserNamespace => namespaces,
                Needs::Nobody => nobody,
            };
            trial.with_ignored_flag(!runnable && !ci)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
