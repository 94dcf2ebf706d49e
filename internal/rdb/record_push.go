package rdb

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// pushLinesOver is the size of a RecordMany call's lines, in all, from
// which it pushes them itself. A string that enters a script is hashed
// byte by byte by Redis' Lua (and copied twice more), which cost Redis
// about 2.4 ns a byte of outcome (BenchmarkRecordLines): 40 µs a 16 KiB
// page. Pushed by RPUSH in the script's own transaction, a line costs
// Redis a copy; the transaction and the script's body sent with EVAL cost
// more than that saves on a call of small lines.
const pushLinesOver = 16 << 10

// lineBytes is the size of the outcomes' lines, in all.
func lineBytes(recs []Record) int {
	n := 0
	for i := range recs {
		n += len(recs[i].Line)
	}
	return n
}

// pushLines are a call's lines for the results list and for the
// exceptions list, each in order.
type pushLines struct{ responses, exceptions []any }

// recordPushed runs record_new.lua (keys, argv and lines from
// recordNewArgs, pushed) in a transaction after RPUSHes of the lines, as
// the script would push them: responses then exceptions. The script
// takes them off again when it writes nothing (an outcome recorded before,
// a key not a list), so that the transaction's end state is the script's
// alone. It is sent as EVAL: an EVALSHA of a script Redis no longer has
// (restarted, failed over) fails at EXEC, after the RPUSHes ran.
func (c *Client) recordPushed(ctx context.Context, keys []string, argv []any, lines pushLines) *redis.Cmd {
	var cmd *redis.Cmd
	_, err := c.r.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if len(lines.responses) > 0 {
			p.RPush(ctx, keys[0], lines.responses...)
		}
		if len(lines.exceptions) > 0 {
			p.RPush(ctx, keys[1], lines.exceptions...)
		}
		cmd = recordNewScript.Eval(ctx, p, keys, argv...)
		return nil
	})
	if err != nil && cmd.Err() == nil {
		cmd.SetErr(err)
	}
	return cmd
}
