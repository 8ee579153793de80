package provider

import "testing"

func TestFrameworkLogLevel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		level  string
		forced bool
	}{
		{"no logs shown", nil, "off", true},
		{"the level Terraform shows", map[string]string{"TF_LOG": "DEBUG"}, "DEBUG", true},
		{"provider level over TF_LOG", map[string]string{"TF_LOG": "trace", "TF_LOG_PROVIDER": "warn"}, "warn", true},
		{"trace keeps the default", map[string]string{"TF_LOG": "trace"}, "", false},
		{"json is trace", map[string]string{"TF_LOG": "json"}, "", false},
		{"an unknown value is trace", map[string]string{"TF_LOG": "1"}, "", false},
		{"the user chose for the framework", map[string]string{"TF_LOG_SDK_FRAMEWORK": "trace"}, "", false},
		{"the user chose for the SDK", map[string]string{"TF_LOG_SDK": "info"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			level, forced := FrameworkLogLevel(func(k string) string { return tc.env[k] })
			if level != tc.level || forced != tc.forced {
				t.Errorf("got (%q, %v), want (%q, %v)", level, forced, tc.level, tc.forced)
			}
		})
	}
}
