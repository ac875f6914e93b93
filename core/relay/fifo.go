package relay

import "time"

// deadline is a message ID due at a time.
type deadline struct {
	at time.Time
	id MessageID
}

// fifo is a queue of deadlines that are pushed in time order (each is a
// fixed timeout after an input, and inputs come in time order), so its
// head is always the earliest. Entries whose message is gone are skipped
// when they come due; compact drops them early so the queue stays within a
// constant of the live entries.
type fifo struct {
	items []deadline
	head  int
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) push(at time.Time, id MessageID) { q.items = append(q.items, deadline{at, id}) }

func (q *fifo) peek() deadline { return q.items[q.head] }

func (q *fifo) pop() deadline {
	d := q.items[q.head]
	q.items[q.head] = deadline{}
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return d
}

// compact keeps only the entries live says are still wanted, in order.
func (q *fifo) compact(live func(MessageID) bool) {
	out := q.items[:0]
	for _, d := range q.items[q.head:] {
		if live(d.id) {
			out = append(out, d)
		}
	}
	clear(q.items[len(out):])
	q.items, q.head = out, 0
}
