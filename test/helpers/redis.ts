/** Throwaway Redis for tests, destroyed in teardown even when the test fails; a small realistic keyspace. */
import type { ExecutionContext } from "ava";
import type { Redis } from "ioredis";
import { startRedis, type LocalRedis } from "../../runbooks/redis/test-restore-server.ts";

export async function redisFor(t: ExecutionContext): Promise<LocalRedis> {
  const server = await startRedis();
  t.teardown(() => server.destroy());
  return server;
}

/** Sessions (strings with TTL), carts (hashes), queues (lists), tags (sets), leaderboards (zsets). */
export async function seedRedis(client: Redis, n = 200): Promise<void> {
  const pipe = client.pipeline();
  for (let i = 0; i < n; i++) {
    pipe.set(`session:${i}`, `user-${i}-${Math.random().toString(36).slice(2)}`, "EX", 3600);
    pipe.hset(`cart:${i}`, { event: String(i % 17), seats: String(1 + (i % 4)), total: (i * 3.5).toFixed(2) });
    if (i % 10 === 0) pipe.rpush(`queue:emails:${i}`, "welcome", "receipt", "reminder");
    if (i % 7 === 0) pipe.sadd(`tags:event:${i}`, "music", "outdoor", `city-${i % 5}`);
  }
  pipe.zadd("leaderboard:sales", ...Array.from({ length: 50 }, (_, i) => [String(i * 10), `org-${i}`]).flat());
  await pipe.exec();
}
