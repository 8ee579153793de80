package registry

// Review 51: a journal write failing (journal.go addToJournal).
//
// TestReview51UnstoredJournalPointsAtAFileNotWritten (reported,
// cosmetic: a false "restorable"): the registry refuses the journal's
// push (pushes to terraform-provider-registry/journal answered 403
// DENIED: credentials that may delete in the repository but not push to
// the journal's). The apply warns: "the journal of the deletions in ...
// could not be stored in the registry ...; this apply still puts back
// what the registry API's window takes, but what it deleted can be
// restored later only from cache_dir/journal". With cache_dir = "" (the
// journal's file is not written at all: journal.file == "") and with a
// cache_dir the provider cannot write (appendFile drops every error), no
// such file exists, and nothing says so: the user is told a later
// restore is possible when nothing of this apply's deletions is stored
// anywhere. (Also: nothing in the provider reads cache_dir/journal back;
// registry_restore reads only the registry's journal.)
//
// Reproduce: REVIEW51_UNSKIP=1 go test -count=1 -run TestReview51UnstoredJournal ./internal/registry/

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview51UnstoredJournalPointsAtAFileNotWritten(t *testing.T) {
	reg := testregistry.Start(t)
	for _, cache := range []string{"off", "unwritable"} {
		t.Run(cache, func(t *testing.T) {
			repo := "review51/journal-" + cache
			created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
			if _, err := reg.PushImage(repo, created, "pr-1"); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.PushImage(repo, created, "stable"); err != nil {
				t.Fatal(err)
			}
			cfg := Config{}
			if cache == "unwritable" {
				cfg.CacheDir = t.TempDir()
				if err := os.WriteFile(filepath.Join(cfg.CacheDir, journalFolder), []byte("not a folder"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			proxy := newFaultProxy(t, reg.URL)
			proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet && r.Method != http.MethodHead && strings.Contains(r.URL.Path, "/"+JournalRepository+"/") {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusForbidden)
					_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
					return true
				}
				return false
			})
			cfg.URL = proxy.URL
			c := newClient(t, cfg)
			batch := planBatch(t, c, repo, deletePR())
			report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
			if err != nil || report.Deleted != 1 {
				t.Fatalf("apply: %v, report %+v; want pr-1's image deleted", err, report)
			}
			var promised bool
			for _, w := range report.Warnings {
				if strings.Contains(w, "could not be stored") && strings.Contains(w, "only from cache_dir/journal") {
					promised = true
				}
			}
			if !promised {
				t.Fatalf("warnings %q; want the journal named not stored", report.Warnings)
			}
			var files []string
			if cfg.CacheDir != "" {
				files, _ = filepath.Glob(filepath.Join(cfg.CacheDir, journalFolder, "*.jsonl"))
			}
			if len(files) == 0 {
				reported51(t, "a journal the registry refuses is said to be restorable later from cache_dir/journal when no such file was written (cache_dir off, or not writable: appendFile drops its errors)")
				t.Fatalf("the apply says its deletions can be restored from cache_dir/journal (%q), which holds no journal", cfg.CacheDir)
			}
		})
	}
}
