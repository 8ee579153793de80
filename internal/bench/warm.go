package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"
)

// warmersInFlight bounds the directories read at once while warming: a
// disk serves random reads faster with several queued.
const warmersInFlight = 16

// warm reads every file below dir, the files of one copy on this machine's
// disk, and returns how long that took. Both GCs start on a copy warmed
// so, just before their run: otherwise the reference starts on a copy the
// checks before it have just read, and ours on one that sat idle through
// the reference's run (half an hour at 100,000 manifests on MinIO), which
// this machine pages out of its cache after about a minute (DAMON), so
// that the ratio measured the cache as much as the GCs.
func warm(ctx context.Context, dir string) (time.Duration, error) {
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(warmersInFlight)
	var readDir func(dir string) error
	readDir = func(dir string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			switch {
			case e.IsDir():
				if !g.TryGo(func() error { return readDir(p) }) {
					if err := readDir(p); err != nil { // every warmer busy: this one goes on itself
						return err
					}
				}
			case e.Type().IsRegular():
				if _, err := os.ReadFile(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	g.Go(func() error { return readDir(dir) })
	err := g.Wait()
	return time.Since(start), err
}
