package registry

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/distreg/terraform-provider-registry/internal/retention"
	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

// A restore pushes: the plan asks whether the credentials may, by an
// upload started and cancelled in the repository. A registry that refuses
// the push (403 DENIED, as for credentials with delete but not push)
// answers no, naming the missing right.
func TestCheckRestorableAsksForPush(t *testing.T) {
	reg := testregistry.Start(t)
	if _, err := reg.PushImage("app", time.Time{}, "v1"); err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, reg.URL)
	c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1})
	if err := c.CheckRestorable(context.Background(), "app"); err != nil {
		t.Fatalf("a registry that takes pushes: %v", err)
	}
	proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
			return true
		}
		return false
	})
	err := c.CheckRestorable(context.Background(), "app")
	if err == nil || !strings.Contains(err.Error(), "push") {
		t.Fatalf("err = %v, want one naming push", err)
	}
}

// Before its DELETEs, an apply stores what it deletes in the registry
// itself (JournalRepository), where a run on another machine can read it:
// the stored bodies are the deleted manifests, byte for byte, and putting
// one back restores the image under its digest. No policy matches the
// journal's repository.
func TestApplyStoresItsJournalInTheRegistry(t *testing.T) {
	reg := testregistry.Start(t)
	gone, err := reg.PushImage("app", time.Time{}, "pr-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushImage("app", time.Time{}, "stable"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL})
	batch := planPolicy(t, c, "app", "^pr-")
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil || report.Deleted != 1 || len(report.Warnings) > 0 {
		t.Fatalf("report %+v, err %v", report, err)
	}
	tags, err := reg.Tags(JournalRepository)
	if err != nil || len(tags) != 1 || !strings.HasPrefix(tags[0], "j-") {
		t.Fatalf("journal tags %v (%v); want one j-... tag", tags, err)
	}
	ref, err := name.ParseReference(reg.Host+"/"+JournalRepository+":"+tags[0], name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref, reg.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d (%v)", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var e JournalEntry
	if err := json.NewDecoder(rc).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if e.Digest != gone.Digest.String() || e.Repository != "app" || !slices.Equal(e.Tags, []string{"pr-1"}) {
		t.Fatalf("entry %+v; want pr-1's image", e)
	}
	mustExist(t, reg, "app", false, gone.Digest)
	if err := c.putManifest(context.Background(), "app", e.Digest, e); err != nil {
		t.Fatal(err)
	}
	mustExist(t, reg, "app", true, gone.Digest)
	all, err := retention.CompileGlob("**")
	if err != nil {
		t.Fatal(err)
	}
	everything, err := c.DecideRetention(context.Background(), retention.Selection{Include: []*regexp.Regexp{all}}, retention.Policy{Delete: []retention.DeleteRule{{}}}, time.Now())
	if err != nil || !slices.Contains(everything.Repositories, "app") || slices.Contains(everything.Repositories, JournalRepository) {
		t.Errorf("a policy over ** matches %v (%v); want app and not %s", everything.Repositories, err, JournalRepository)
	}
}

// Where the credentials cannot push the journal, the apply still deletes
// and repairs from memory, and says the journal was not stored; where the
// journal's owner does not exist (Gitea keeps images under an owner and
// answers a bare 404), it says to create it.
func TestApplyWarnsWhenItsJournalCannotBeStored(t *testing.T) {
	for name, refusal := range map[string]struct {
		status      int
		contentType string
		body        string
		ownerHint   bool
	}{
		"denied":        {http.StatusForbidden, "application/json", `{"errors":[{"code":"DENIED","message":"denied"}]}`, false},
		"no such owner": {http.StatusNotFound, "text/plain; charset=utf-8", "Not found.\n", true},
	} {
		t.Run(name, func(t *testing.T) {
			reg := testregistry.Start(t)
			gone, err := reg.PushImage("app", time.Time{}, "pr-1")
			if err != nil {
				t.Fatal(err)
			}
			proxy := newFaultProxy(t, reg.URL)
			c := newClient(t, Config{URL: proxy.URL, RetryMaxAttempts: 1})
			batch := planPolicy(t, c, "app", "^pr-")
			proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet && r.Method != http.MethodHead && strings.Contains(r.URL.Path, "/"+JournalRepository+"/") {
					w.Header().Set("Content-Type", refusal.contentType)
					w.WriteHeader(refusal.status)
					_, _ = w.Write([]byte(refusal.body))
					return true
				}
				return false
			})
			report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
			if err != nil || report.Deleted != 1 || len(report.Warnings) != 1 || !strings.Contains(report.Warnings[0], "could not be stored in the registry") {
				t.Fatalf("report %+v, err %v; want the deletion and one warning", report, err)
			}
			if hinted := strings.Contains(report.Warnings[0], `create the owner "terraform-provider-registry"`); hinted != refusal.ownerHint {
				t.Errorf("warning %q: names the owner to create %v, want %v", report.Warnings[0], hinted, refusal.ownerHint)
			}
			mustExist(t, reg, "app", false, gone.Digest)
		})
	}
}
