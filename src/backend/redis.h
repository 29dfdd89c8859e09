/*
 * redis.h - the redis backend's internals, shared by its data path (redis.c) and its
 * setup (redis_setup.c: the spec, connecting, the checks at start, the janitor).
 * The design is described at the top of redis.c.
 */
#ifndef FS_BACKEND_REDIS_H
#define FS_BACKEND_REDIS_H

#include "backend/backend.h"

#include <hiredis/hiredis.h>
#include <stdatomic.h>

#define MAX_NODES 32
#define VNODES 160
#define GROUP_SHIFT 4
#define GROUP_PAGES (1u << GROUP_SHIFT)
#define MAX_PIECES (FS_IO_MAX_PAGES / GROUP_PAGES + 1)
#define CONN_CMDS 1024           /* commands in flight per connection for new requests */
#define OUT_LIMIT (4u << 20)     /* unsent bytes per connection before "queue full" (hiredis
				  * moves the rest of its buffer down after each partial send) */
#define MAX_OPS 4096
#define RX_CHUNK (256u << 10)
#define CONNECT_TIMEOUT_MS 3000
#define KEY_MAX 48

enum { K_READ, K_WRITE, K_DEL };
enum { BULK = 0, DEMAND = 1 };

struct op { /* one fs_io or one discard */
	uint64_t tag, page;
	void *buf;
	uint32_t npages, pending; /* pending: commands not yet answered */
	uint8_t kind, used;
};

struct cmd { /* one command on one connection: one piece of an op */
	uint32_t op;
	uint64_t page;
	uint32_t npages;
	uint8_t kind;
	uint8_t rank; /* reads: position of this server in the piece's replica list */
};

struct conn {
	redisContext *c;
	struct cmd *ring; /* FIFO of the commands in flight, cap entries (grows when a lost
			   * server's reads move here) */
	uint32_t head, count, cap, nwrites;
	fs_liveness live; /* silence while commands are in flight (backend_timeout_ms) */
};

struct node {
	char addr[280]; /* "HOST:PORT" */
	char host[256];
	int port;
	struct conn conn[2];
	int lost;
};

struct point {
	uint64_t hash;
	uint8_t rep[MAX_NODES]; /* the first replicas+1 distinct servers from here on */
};

struct redis_backend {
	fs_backend base;
	struct node node[MAX_NODES];
	int nnodes, replicas;
	_Atomic int nlost; /* servers lost (read by stats() from any thread) */
	struct point *ring;
	int npoints;
	char session[17];
	struct op *ops;
	uint32_t *free_ops, nfree_ops;
	uint32_t inflight; /* reads and writes not yet returned by poll */
	fs_io_done *done;
	uint32_t dhead, dcount;
	int err; /* sticky FS_E* */
	uint32_t timeout_ms; /* backend_timeout_ms: a longer silence means the server is gone */
	int janitor_fd;
	unsigned char *rxbuf;
	const char *argv[2 * FS_IO_MAX_PAGES + 1];
	size_t argl[2 * FS_IO_MAX_PAGES + 1];
	char keys[FS_IO_MAX_PAGES][KEY_MAX];
	_Atomic uint64_t reads_failed_over, reads_from_replica, writes_degraded, lost_at_ns;
	_Atomic uint64_t commands, start_ns;
};

#define RLX memory_order_relaxed

/* The ring of VNODES points per server and each point's replica list (redis.c). */
int fs_redis_build_ring(struct redis_backend *r);
extern const fs_backend_ops fs_redis_ops;
void fs_redis_close(fs_backend *b);

#endif
