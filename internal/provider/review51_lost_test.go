package provider

// Regression test of review 51 (fixed): the losses of an apply stopped by
// another error were never shown (resource_retention_policy.go apply
// printed the error that stopped it, never registry.Report.Lost). Each
// loss is now an error of its own, and the error that stopped the apply
// is shown without repeating them.

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

func TestReview51LossesAreErrors(t *testing.T) {
	stop := errors.New("deleting app@sha256:1: the registry failed with 500")
	lost := []string{"tag app:stable on sha256:2: putting it back failed"}
	for name, tc := range map[string]struct {
		err  error
		want error // returned: what else stopped the apply
	}{
		"stopped":   {err: &registry.LostError{Cause: stop, Lost: lost}, want: stop},
		"only lost": {err: &registry.LostError{Lost: lost}, want: nil},
		"no loss":   {err: stop, want: stop},
		"no error":  {err: nil, want: nil},
	} {
		t.Run(name, func(t *testing.T) {
			var diags diag.Diagnostics
			reported := lost
			if name == "no loss" || name == "no error" {
				reported = nil
			}
			got := reportLost("Lost during the apply", "", reported, tc.err, &diags)
			if !errors.Is(got, tc.want) {
				t.Errorf("returned %v; want %v", got, tc.want)
			}
			if diags.ErrorsCount() != len(reported) {
				t.Fatalf("%d error(s) %v; want one per loss (%d)", diags.ErrorsCount(), diags, len(reported))
			}
			for _, d := range diags {
				if d.Summary() != "Lost during the apply" || !strings.Contains(d.Detail(), "app:stable") {
					t.Errorf("diagnostic %q: %q; want the loss named", d.Summary(), d.Detail())
				}
			}
		})
	}
	if err := (&registry.LostError{Cause: stop, Lost: lost}); !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "app:stable") || !errors.Is(err, stop) {
		t.Errorf("LostError %q: want both the stop and the loss named, and the stop wrapped", err)
	}
}
