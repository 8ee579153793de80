package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A release promoted from pull-request images during the first chunk of a
// large repository (as in review 47's regression test), but this time the
// promoted children are deleted by the FIRST chunk, and the apply is
// interrupted (Terraform's Ctrl-C cancels the context) after that chunk's
// verification, before the second chunk's DELETEs. The first chunk's
// verification is not the last (last = false): with 21 tags staying and
// max_concurrency 1, fewStaying resolves none, so stable's move is not
// seen. The second chunk's lastCheck fails on the cancelled context and
// executeBatch returns before any verification with last = true: the
// check "after the last chunk" never runs. stable's index has lost both
// platform images, nothing is put back, and the apply's error (context
// canceled) names neither the loss nor registry_restore.
// Regression test of review 49 (fixed).
func TestReview49InterruptedBetweenChunksSkipsTheLastResolve(t *testing.T) {
	onBothRegistries(t, func(t *testing.T, reg *testregistry.Registry) {
		const repo = "review49/interrupt-promote"
		proxy := newFaultProxy(t, reg.URL)
		c := newClient(t, Config{URL: proxy.URL, MaxConcurrency: 1})
		batch, old := bigRepo(t, reg, c, repo)
		children := []v1.Hash{mustHash(t, batch.Manifests[1].Digest), mustHash(t, batch.Manifests[2].Digest)}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var promoted v1.Hash
		var once sync.Once
		var journalPuts atomic.Int64
		proxy.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, batch.Manifests[0].Digest) {
				once.Do(func() {
					var err error
					if promoted, err = reg.PushIndexOf(repo, children, "stable"); err != nil {
						t.Error(err)
					}
				})
			}
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, JournalRepository+"/manifests/") {
				if journalPuts.Add(1) == 2 { // the second chunk's journal: the first chunk was verified
					cancel()
				}
			}
			return false
		})
		report, err := c.ExecuteBatches(ctx, []Batch{batch})
		t.Logf("apply: %v\nstable was on %s, promoted to %s over %v\nrestored %q\nlost %q\nremaining %q deleted %d",
			err, old, promoted, children, report.Restored, report.Lost, report.Remaining, report.Deleted)
		if journalPuts.Load() < 2 {
			t.Fatalf("the second chunk's journal was not stored (%d journal PUTs): the interruption did not happen where intended", journalPuts.Load())
		}
		tagIs(t, reg, repo, "stable", promoted)
		if pullErr := reg.Pull(repo, "stable"); pullErr != nil {
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			named := len(report.Lost) > 0 || strings.Contains(msg, children[0].String())
			t.Errorf("stable (kept) does not pull after the interrupted apply, put back nothing (restored %d) and the report names no loss (named: %v): %v",
				len(report.Restored), named, pullErr)
		}
	})
}
