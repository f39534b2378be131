//go:build drills

package drills

// Under the build tag drills (`make drills`) the read load of every drill is k6 at 500/s.
func init() { useK6 = true }
