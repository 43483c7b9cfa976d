// Drives the gateway with the official OpenAI SDK, as an enterprise application would.
// usage: node openai_client.mjs BASE_URL   (NODE_EXTRA_CA_CERTS points at the dev CA, SOVGW_API_KEY
// holds a tenant key)
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2], apiKey: process.env.SOVGW_API_KEY, maxRetries: 0 });
const out = {};

const chat = await client.chat.completions.create({
  model: "mistral-small",
  messages: [{ role: "user", content: "Bonjour" }],
});
out.chat = { content: chat.choices[0].message.content, usage: chat.usage };

const stream = await client.chat.completions.create({
  model: "mistral-small",
  stream: true,
  stream_options: { include_usage: true },
  messages: [{ role: "user", content: "Bonjour" }],
});
let text = "";
let chunks = 0;
let usage = null;
for await (const chunk of stream) {
  chunks += 1;
  if (chunk.choices.length > 0) text += chunk.choices[0].delta.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
out.stream = { text, chunks, usage };

// Without include_usage the gateway still counts the stream (it asks the cluster itself) but the
// application must see exactly the chunks it asked for: no usage chunk.
const plain = await client.chat.completions.create({
  model: "mistral-small",
  stream: true,
  messages: [{ role: "user", content: "Bonjour" }],
});
out.plain_stream = { chunks: 0, usage_chunks: 0 };
for await (const chunk of plain) {
  out.plain_stream.chunks += 1;
  if (chunk.usage) out.plain_stream.usage_chunks += 1;
}

// The SDK's stream helper rebuilds the completion, and needs each choice's finish_reason (probe
// round 47: the stand-in sent none, and finalChatCompletion() threw).
const helper = client.beta.chat.completions.stream({
  model: "mistral-small",
  messages: [{ role: "user", content: "Bonjour" }],
});
const final = await helper.finalChatCompletion();
out.stream_helper = { content: final.choices[0].message.content, finish_reason: final.choices[0].finish_reason };

const emb = await client.embeddings.create({ model: "mistral-embed", input: "Bonjour", encoding_format: "float" });
out.embeddings = { length: emb.data[0].embedding.length, usage: emb.usage };
// Several inputs: one vector each, in order.
const embs = await client.embeddings.create({ model: "mistral-embed", input: ["Bonjour", "Hallo", "Ciao"] });
out.embeddings_batch = { vectors: embs.data.length, indexes: embs.data.map((d) => d.index) };

// The Responses API, plain and streamed (its usage is input_tokens/output_tokens).
const resp = await client.responses.create({ model: "mistral-small", input: "Bonjour" });
out.responses = { text: resp.output_text, usage: resp.usage };
const rstream = await client.responses.create({ model: "mistral-small", input: "Bonjour", stream: true });
out.responses_stream = { text: "", events: 0, usage: null };
for await (const ev of rstream) {
  out.responses_stream.events += 1;
  if (ev.type === "response.output_text.delta") out.responses_stream.text += ev.delta;
  if (ev.type === "response.completed") out.responses_stream.usage = ev.response.usage;
}

// The SDK's Responses stream helper rebuilds the response from its events and refuses a delta for
// an output item that was never added (probe round 47: the stand-in sent none, finalResponse()
// threw and the gateway recorded a client disconnect).
const rhelper = client.responses.stream({ model: "mistral-small", input: "Bonjour" });
const rfinal = await rhelper.finalResponse();
out.responses_helper = {
  text: rfinal.output.flatMap((item) => item.content ?? []).map((part) => part.text).join(""),
  status: rfinal.status,
  usage: rfinal.usage,
};

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

try {
  await client.chat.completions.create({ model: "gpt-unknown", messages: [{ role: "user", content: "x" }] });
  out.error = null;
} catch (e) {
  out.error = { status: e.status, code: e.code, type: e.type, message: e.message,
                request_id: e.headers?.get?.("x-request-id") ?? e.headers?.["x-request-id"] ?? null };
}
try {
  const wrong = new OpenAI({ baseURL: process.argv[2], apiKey: "sk-test-not-a-real-key", maxRetries: 0 });
  await wrong.models.list();
  out.wrong_key = null;
} catch (e) {
  out.wrong_key = { status: e.status, code: e.code };
}
console.log(JSON.stringify(out));
