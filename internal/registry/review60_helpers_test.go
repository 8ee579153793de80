package registry

import (
	"context"
	"net/http"
	"slices"
	"testing"
)

// applyIDs60 lists the applies whose chunks the registry's journal holds,
// sorted: what registry_restore's apply_id names.
func applyIDs60(t *testing.T, c *Client) []string {
	t.Helper()
	tags, err := c.Tags(context.Background(), JournalRepository)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("listing the journal's chunks: %v", err)
	}
	var ids []string
	for _, tag := range tags {
		if id, ok := ApplyIDOf(tag); ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// deny60 answers as a registry (or a gateway in front of it) refusing a
// request outright: 403 DENIED.
func deny60(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
}

// journaledFor60 returns the journal's records of repo for digest.
func journaledFor60(t *testing.T, c *Client, repo, digest string) []JournalRecord {
	t.Helper()
	records, err := c.ReadJournal(context.Background(), JournalFilter{Repository: repo})
	if err != nil {
		t.Fatalf("reading the journal: %v", err)
	}
	return slices.DeleteFunc(records, func(r JournalRecord) bool { return r.Digest != digest })
}
