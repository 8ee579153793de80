package provider

import "strings"

// EnvFrameworkLogLevel is the level of the plugin framework's own logger.
const EnvFrameworkLogLevel = "TF_LOG_SDK_FRAMEWORK"

// FrameworkLogLevel returns the level to give the plugin framework's own
// logger when the user has not chosen one (TF_LOG_SDK_FRAMEWORK, or
// TF_LOG_SDK for the whole SDK): the level of the provider logs Terraform
// will show (TF_LOG_PROVIDER, else TF_LOG), and "off" when it shows none.
// ok is false when the framework should keep its default, which logs
// everything.
//
// Why: by default a provider logs everything at trace level and Terraform
// drops what it does not show. The framework's trace logging over a large
// state is quadratic (before answering, it walks every value of the new
// state, adding one context layer per value and looking its logger up
// through all of them), which cost two minutes at the end of applying a
// retention policy with 10,000 deletions, and again on every refresh of
// that state. With trace logs shown (TF_LOG=trace) that cost remains.
func FrameworkLogLevel(getenv func(string) string) (level string, ok bool) {
	if getenv(EnvFrameworkLogLevel) != "" || getenv("TF_LOG_SDK") != "" {
		return "", false
	}
	shown := getenv("TF_LOG_PROVIDER")
	if shown == "" {
		shown = getenv("TF_LOG")
	}
	switch strings.ToLower(shown) {
	case "":
		return "off", true
	case "debug", "info", "warn", "error", "off":
		return shown, true
	}
	return "", false // trace, json, or a value Terraform reads as trace
}
