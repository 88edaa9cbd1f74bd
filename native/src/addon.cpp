// node-addon-api bindings: listDevices(), Context, Model, Session. GPU work (weight upload, eval)
// runs on libuv worker threads and resolves promises, so the JS event loop never waits on the GPU.
// Every native failure becomes a JS Error with `code` (and `vkResult`), mapped to typed errors in
// runtime/native.ts; no exception escapes into the host process.
#include <napi.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>

#include "shaders_hash.h"
#include "model_weights.h"
#include "session.h"
#include "vk_check.h"
#include "vk_context.h"

namespace {

Napi::Error makeError(Napi::Env env, const std::string& code, const std::string& message, const std::string& vkResult = "") {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  if (!vkResult.empty()) e.Set("vkResult", Napi::String::New(env, vkResult));
  return e;
}

// Runs `body`, turning C++ exceptions into JS exceptions with a code.
template <typename F>
auto guarded(Napi::Env env, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const NativeError& e) {
    throw makeError(env, e.code, e.what(), e.vkResult);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw makeError(env, "OUT_OF_DEVICE_MEMORY", "out of host memory");
  } catch (const std::exception& e) {
    throw makeError(env, "VULKAN", e.what());
  }
}

struct CapturedError {
  std::string code, message, vkResult;
  void capture(const std::exception& e) {
    if (auto* ne = dynamic_cast<const NativeError*>(&e)) {
      code = ne->code;
      vkResult = ne->vkResult;
    } else if (dynamic_cast<const std::bad_alloc*>(&e)) {
      code = "OUT_OF_DEVICE_MEMORY";
    } else {
      code = "VULKAN";
    }
    message = e.what();
  }
};

Napi::Object deviceInfoToJs(Napi::Env env, const DeviceInfo& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", d.index);
  o.Set("name", d.name);
  o.Set("type", d.type);
  o.Set("driverName", d.driverName);
  o.Set("driverInfo", d.driverInfo);
  o.Set("apiVersion", d.apiVersion);
  o.Set("vendorId", d.vendorId);
  o.Set("deviceId", d.deviceId);
  Napi::Array heaps = Napi::Array::New(env, d.heaps.size());
  for (uint32_t i = 0; i < d.heaps.size(); ++i) {
    Napi::Object h = Napi::Object::New(env);
    h.Set("size", double(d.heaps[i].size));
    h.Set("deviceLocal", d.heaps[i].deviceLocal);
    heaps.Set(i, h);
  }
  o.Set("memoryHeaps", heaps);
  o.Set("subgroupSize", d.subgroupSize);
  o.Set("maxSharedMemory", d.maxSharedMemory);
  o.Set("fp16", d.fp16);
  o.Set("int8", d.int8);
  o.Set("integerDotProduct", d.integerDot);
  o.Set("integerDotProductAccelerated", d.integerDotAccelerated);
  o.Set("integerDotKernels", d.integerDotKernels);
  o.Set("cooperativeMatrix", d.cooperativeMatrix);
  o.Set("cooperativeMatrixPrefill", d.cooperativeMatrixPrefill);
  return o;
}

// ---------------------------------------------------------------------------------------------
// The environment: every PARLEY_* variable the native library honours is read here, where a context, a model
// or a session is created, and handed down as options (experiments, tests and the bench set them; a game
// never needs to). A bad value is a typed error naming the variable.

// An integer in lo..hi from the environment variable `name`, or nothing when unset.
std::optional<uint32_t> envUint(const char* name, uint32_t lo, uint32_t hi) {
  const char* env = std::getenv(name);
  if (!env) return std::nullopt;
  char* end = nullptr;
  const long v = std::strtol(env, &end, 10);
  if (end == env || *end != '\0' || v < long(lo) || v > long(hi))
    throw NativeError("INVALID_ARGUMENT", std::string(name) + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                                              ", got '" + env + "'");
  return uint32_t(v);
}

// A 0/1 switch from the environment, or nothing when unset.
std::optional<bool> envSwitch(const char* name) {
  const char* env = std::getenv(name);
  if (!env) return std::nullopt;
  const std::string v(env);
  if (v != "0" && v != "1") throw NativeError("INVALID_ARGUMENT", std::string(name) + " must be 0 or 1, got '" + v + "'");
  return v == "1";
}

// PARLEY_SYNC_VALIDATION=0: the validation layer without its synchronization checks.
bool syncValidationFromEnvironment() {
  const char* sync = std::getenv("PARLEY_SYNC_VALIDATION");
  return !(sync && std::string(sync) == "0");
}

LoadOptions loadOptionsFromEnvironment() {
  LoadOptions o;
  o.stagingKiB = envUint("PARLEY_UPLOAD_STAGING_KIB", 64, 1u << 20).value_or(o.stagingKiB);
  o.threads = envUint("PARLEY_LOAD_THREADS", 1, 64).value_or(0);
  return o;
}

// The kernel overrides (docs/ARCHITECTURE.md, "Kernel environment variables"), the pipeline threads and profiling.
Session::Overrides sessionOverridesFromEnvironment() {
  Session::Overrides o;
  KernelOverrides& k = o.kernels;
  k.matvecStage = envSwitch("PARLEY_MATVEC_STAGE");
  k.matvecRows = envUint("PARLEY_MATVEC_ROWS", 1, 8);
  k.matvecWide = envSwitch("PARLEY_MATVEC_WIDE");
  k.matvecDot8 = envSwitch("PARLEY_MATVEC_DOT8");
  k.fusedArgmax = envSwitch("PARLEY_FUSED_ARGMAX");
  k.swigluPairs = envSwitch("PARLEY_SWIGLU_PAIRS");
  if (const char* env = std::getenv("PARLEY_PREFILL")) {
    const std::string v(env);
    if (v != "gemm" && v != "tiled16" && v != "matvec" && v != "coopmat")
      throw NativeError("INVALID_ARGUMENT", "PARLEY_PREFILL must be gemm, tiled16, matvec or coopmat, got '" + v + "'");
    k.prefill = v == "gemm"      ? PrefillKernel::Gemm
                : v == "tiled16" ? PrefillKernel::Tiled16
                : v == "matvec"  ? PrefillKernel::Matvec
                                 : PrefillKernel::Coopmat;
  }
  k.coopmatEmulated = envSwitch("PARLEY_COOPMAT_EMULATE").value_or(false);
  k.prefillDot8 = envSwitch("PARLEY_PREFILL_DOT8");
  k.prefillTokens = envUint("PARLEY_PREFILL_TOKENS", 2, 16);
  k.prefillRows = envUint("PARLEY_PREFILL_ROWS", 1, 8);
  k.maxTpr = envUint("PARLEY_TPR", 1, 64);
  k.attnChunk = envUint("PARLEY_ATTN_CHUNK", 1, 256);
  k.attnHeadsPerWg = envUint("PARLEY_ATTN_HEADS", 1, 8);
  k.topkGroups = envUint("PARLEY_TOPK_GROUPS", 1, 64);
  k.prefillQueryTiles = envSwitch("PARLEY_PREFILL_ATTENTION").value_or(true);
  k.shortPrefill = envUint("PARLEY_SHORT_PREFILL", 0, 1).value_or(1) == 1;
  o.pipelineThreads = envUint("PARLEY_PIPELINE_THREADS", 1, 64).value_or(0);
  const char* profile = std::getenv("PARLEY_PROFILE");
  o.profile = profile && std::string(profile) == "1";
  o.profileEveryDispatch = std::getenv("PARLEY_PROFILE_ALL") != nullptr;
  return o;
}

struct AddonData {
  Napi::FunctionReference modelCtor;
  Napi::FunctionReference sessionCtor;
};

uint32_t getU32(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw NativeError("INVALID_ARGUMENT", std::string("model description: ") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 4294967295.0 || d != double(uint32_t(d)))
    throw NativeError("INVALID_ARGUMENT", std::string("model description: ") + key + " is out of range");
  return uint32_t(d);
}

// ---------------------------------------------------------------------------------------------
class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "Session",
        {InstanceMethod("eval", &SessionWrap::Eval), InstanceMethod("plan", &SessionWrap::Plan),
         InstanceMethod("dispose", &SessionWrap::Dispose), InstanceMethod("decodeChain", &SessionWrap::DecodeChain),
         InstanceMethod("sampleChain", &SessionWrap::SampleChain), InstanceAccessor("submits", &SessionWrap::Submits, nullptr),
         InstanceAccessor("tuning", &SessionWrap::Tuning, nullptr), InstanceAccessor("deviceBytes", &SessionWrap::DeviceBytes, nullptr)});
  }
  SessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionWrap>(info) {
    session_ = *info[0].As<Napi::External<std::shared_ptr<Session>>>().Data();
  }

 private:
  // GPU work on a worker thread, settling a promise: the session is marked busy until it settles, the JS
  // object is kept alive meanwhile, and a native failure becomes the same typed error as a synchronous one.
  class SessionWorker : public Napi::AsyncWorker {
   public:
    SessionWorker(Napi::Env env, SessionWrap* owner)
        : Napi::AsyncWorker(env),
          deferred_(Napi::Promise::Deferred::New(env)),
          owner_(Napi::Persistent(owner->Value())),
          wrap_(owner),
          session_(owner->session_) {
      wrap_->busy_ = true;
    }
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
      try {
        run(*session_);
      } catch (const std::exception& e) {
        error_.capture(e);
        SetError(e.what());
      }
    }
    void OnOK() override {
      wrap_->busy_ = false;
      deferred_.Resolve(result(Env()));
    }
    void OnError(const Napi::Error&) override {
      wrap_->busy_ = false;
      deferred_.Reject(makeError(Env(), error_.code, error_.message, error_.vkResult).Value());
    }

   protected:
    virtual void run(Session& session) = 0;         // worker thread
    virtual Napi::Value result(Napi::Env env) = 0;  // JS thread, after run() succeeded

   private:
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference owner_;  // keeps the JS object (and so wrap_) alive while in flight
    SessionWrap* wrap_;
    std::shared_ptr<Session> session_;
    CapturedError error_;
  };

  // eval(tokens, pos, mode) → Promise<{ argmax, rows, logits?, topIds?, topLogits? }>.
  class EvalWorker : public SessionWorker {
   public:
    EvalWorker(Napi::Env env, SessionWrap* owner, std::vector<int32_t> tokens, uint32_t pos, Session::Output out)
        : SessionWorker(env, owner), tokens_(std::move(tokens)), pos_(pos), out_(out) {}

   protected:
    void run(Session& session) override { result_ = session.eval(tokens_, pos_, out_); }
    Napi::Value result(Napi::Env env) override {
      Napi::Object o = Napi::Object::New(env);
      o.Set("argmax", result_.argmax);
      o.Set("rows", result_.rows);
      if (!result_.logits.empty()) {
        Napi::Float32Array a = Napi::Float32Array::New(env, result_.logits.size());
        std::memcpy(a.Data(), result_.logits.data(), result_.logits.size() * 4);
        o.Set("logits", a);
      }
      if (!result_.topIds.empty()) {
        Napi::Int32Array ids = Napi::Int32Array::New(env, result_.topIds.size());
        std::memcpy(ids.Data(), result_.topIds.data(), result_.topIds.size() * 4);
        Napi::Float32Array values = Napi::Float32Array::New(env, result_.topLogits.size());
        std::memcpy(values.Data(), result_.topLogits.data(), result_.topLogits.size() * 4);
        o.Set("topIds", ids);
        o.Set("topLogits", values);
      }
      return o;
    }

   private:
    std::vector<int32_t> tokens_;
    uint32_t pos_;
    Session::Output out_;
    Session::Result result_;
  };

  Napi::Value Eval(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (!session_) throw NativeError("DISPOSED", "session was disposed and cannot be used any more");
      if (busy_) throw NativeError("INVALID_ARGUMENT", "session is already evaluating; await the previous eval first");
      if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw NativeError("INVALID_ARGUMENT", "eval(tokens: Int32Array, pos, mode)");
      Napi::Int32Array arr = info[0].As<Napi::Int32Array>();
      std::vector<int32_t> tokens(arr.Data(), arr.Data() + arr.ElementLength());
      uint32_t pos = info[1].As<Napi::Number>().Uint32Value();
      uint32_t mode = info[2].As<Napi::Number>().Uint32Value();
      if (mode > 3) throw NativeError("INVALID_ARGUMENT", "eval mode must be 0 (last logits), 1 (all logits), 2 (argmax) or 3 (top-k)");
      auto* w = new EvalWorker(env, this, std::move(tokens), pos, Session::Output(mode));
      Napi::Promise p = w->promise();
      w->Queue();
      return p;
    });
  }
  // decodeChain(first, pos, n) → Promise<Int32Array>: n greedy tokens in one submission (Session::decodeChain).
  // sampleChain(first, pos, n, sampling) → Promise<{ tokens: Int32Array, rng: Uint32Array }>: n sampled ones.
  class DecodeChainWorker : public SessionWorker {
   public:
    DecodeChainWorker(Napi::Env env, SessionWrap* owner, int32_t first, uint32_t pos, uint32_t n, std::optional<Session::Sampling> sampling,
                      std::vector<int32_t> window)
        : SessionWorker(env, owner), first_(first), pos_(pos), n_(n), sampling_(sampling), window_(std::move(window)) {}

   protected:
    void run(Session& session) override { tokens_ = session.decodeChain(first_, pos_, n_, sampling_ ? &*sampling_ : nullptr, window_); }
    Napi::Value result(Napi::Env env) override {
      Napi::Int32Array a = Napi::Int32Array::New(env, tokens_.size());
      std::memcpy(a.Data(), tokens_.data(), tokens_.size() * 4);
      if (!sampling_) return a;
      Napi::Uint32Array rng = Napi::Uint32Array::New(env, 4);
      std::memcpy(rng.Data(), sampling_->rng, 16);
      Napi::Object o = Napi::Object::New(env);
      o.Set("tokens", a);
      o.Set("rng", rng);
      return o;
    }

   private:
    int32_t first_;
    uint32_t pos_, n_;
    std::optional<Session::Sampling> sampling_;
    std::vector<int32_t> window_;
    std::vector<int32_t> tokens_;
  };

  Napi::Value DecodeChain(const Napi::CallbackInfo& info) { return queueChain(info, false); }
  Napi::Value SampleChain(const Napi::CallbackInfo& info) { return queueChain(info, true); }

  Napi::Value queueChain(const Napi::CallbackInfo& info, bool sample) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const std::string usage =
          sample ? "sampleChain(first: number, pos: number, n: number, sampling: { temperature, topK, topP, minP, rng: Uint32Array(4), "
                   "repeatPenalty, frequencyPenalty, presencePenalty, penaltyWindow, window: Int32Array })"
                 : "decodeChain(first: number, pos: number, n: number)";
      if (!session_) throw NativeError("DISPOSED", "session was disposed and cannot be used any more");
      if (busy_) throw NativeError("INVALID_ARGUMENT", "session is already evaluating; await the previous eval first");
      auto integer = [&](size_t i, double lo, double hi) {
        if (!info[i].IsNumber()) throw NativeError("INVALID_ARGUMENT", usage);
        double d = info[i].As<Napi::Number>().DoubleValue();
        if (!(d >= lo && d <= hi) || d != double(int64_t(d)))
          throw NativeError("INVALID_ARGUMENT", usage + ": argument " + std::to_string(i) + " must be an integer in " +
                                                    std::to_string(int64_t(lo)) + ".." + std::to_string(int64_t(hi)));
        return int64_t(d);
      };
      const int32_t first = int32_t(integer(0, -2147483648.0, 2147483647.0));
      const uint32_t pos = uint32_t(integer(1, 0, 4294967295.0));
      const uint32_t n = uint32_t(integer(2, 0, 4294967295.0));
      std::optional<Session::Sampling> sampling;
      std::vector<int32_t> window;
      if (sample) {
        // Shapes only here; Session::decodeChain checks the ranges (typed errors either way).
        if (!info[3].IsObject()) throw NativeError("INVALID_ARGUMENT", usage);
        Napi::Object o = info[3].As<Napi::Object>();
        auto number = [&](const char* key) {
          Napi::Value v = o.Get(key);
          if (!v.IsNumber()) throw NativeError("INVALID_ARGUMENT", usage + ": " + key + " must be a number");
          return v.As<Napi::Number>().DoubleValue();
        };
        Session::Sampling sp{};
        sp.temperature = float(number("temperature"));
        const double topK = number("topK");
        if (!(topK >= 0 && topK <= 4294967295.0) || topK != double(int64_t(topK)))
          throw NativeError("INVALID_ARGUMENT", usage + ": topK must be a non-negative integer");
        sp.topK = uint32_t(topK);
        sp.topP = float(number("topP"));
        sp.minP = float(number("minP"));
        Napi::Value rng = o.Get("rng");
        if (!rng.IsTypedArray() || rng.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
            rng.As<Napi::Uint32Array>().ElementLength() != 4)
          throw NativeError("INVALID_ARGUMENT", usage + ": rng must be a Uint32Array of 4 entries");
        std::memcpy(sp.rng, rng.As<Napi::Uint32Array>().Data(), 16);
        sp.repeatPenalty = float(number("repeatPenalty"));
        sp.frequencyPenalty = float(number("frequencyPenalty"));
        sp.presencePenalty = float(number("presencePenalty"));
        const double penaltyWindow = number("penaltyWindow");
        if (!(penaltyWindow >= 0 && penaltyWindow <= 4294967295.0) || penaltyWindow != double(int64_t(penaltyWindow)))
          throw NativeError("INVALID_ARGUMENT", usage + ": penaltyWindow must be a non-negative integer");
        sp.penaltyWindow = uint32_t(penaltyWindow);
        Napi::Value w = o.Get("window");
        if (!w.IsTypedArray() || w.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
          throw NativeError("INVALID_ARGUMENT", usage + ": window must be an Int32Array");
        Napi::Int32Array wa = w.As<Napi::Int32Array>();
        window.assign(wa.Data(), wa.Data() + wa.ElementLength());
        sampling = sp;
      }
      auto* w = new DecodeChainWorker(env, this, first, pos, n, sampling, std::move(window));
      Napi::Promise p = w->promise();
      w->Queue();
      return p;
    });
  }
  // The kernels' effective settings: { matvecDecode, rowsPerSubgroup, stageInput, wideLoads, integerDot,
  // prefillKernel, prefillIntegerDot }.
  Napi::Value Tuning(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (!session_) throw NativeError("DISPOSED", "session was disposed and cannot be used any more");
      const KernelChoice& k = session_->kernels();
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("matvecDecode", k.decode == DecodeKernel::Matvec);
      o.Set("rowsPerSubgroup", k.matvecRows);
      o.Set("stageInput", k.matvecStage);
      o.Set("wideLoads", k.matvecWide);
      o.Set("integerDot", k.matvecDot8);
      static const char* kPrefill[] = {"gemm", "tiled16", "matvec", "lane", "coopmat"};
      o.Set("prefillKernel", kPrefill[int(k.prefill)]);
      o.Set("prefillIntegerDot", k.prefillDot8 && k.prefill == PrefillKernel::Gemm);
      return o;
    });
  }
  Napi::Value Submits(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), session_ ? double(session_->submits()) : 0.0);
  }
  Napi::Value Plan(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (!session_) throw NativeError("DISPOSED", "session was disposed and cannot be used any more");
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("dispatches", session_->decodePlan().dispatches);
      o.Set("barriers", session_->decodePlan().barriers);
      o.Set("pipelines", session_->pipelineCount());
      // Per token of the GPU loop (generate()'s path): the step, then the advance that chooses and embeds the next token.
      Napi::Object chain = Napi::Object::New(info.Env());
      for (bool sampled : {false, true}) {
        Napi::Object c = Napi::Object::New(info.Env());
        c.Set("dispatches", session_->chainPlan(sampled).dispatches);
        c.Set("barriers", session_->chainPlan(sampled).barriers);
        chain.Set(sampled ? "sampled" : "greedy", c);
      }
      o.Set("chain", chain);
      return o;
    });
  }
  Napi::Value DeviceBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), session_ ? double(session_->deviceBytes()) : 0.0);
  }
  void Dispose(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] {
      if (busy_) throw NativeError("INVALID_ARGUMENT", "cannot dispose a session while it is evaluating");
      session_.reset();
    });
  }

  std::shared_ptr<Session> session_;
  bool busy_ = false;
};

// ---------------------------------------------------------------------------------------------
class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "Model",
        {InstanceMethod("createSession", &ModelWrap::CreateSession), InstanceMethod("createSessionAsync", &ModelWrap::CreateSessionAsync),
         InstanceMethod("dispose", &ModelWrap::Dispose), InstanceAccessor("deviceBytes", &ModelWrap::DeviceBytes, nullptr),
         InstanceAccessor("weightBytes", &ModelWrap::WeightBytes, nullptr)});
  }
  ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    model_ = *info[0].As<Napi::External<std::shared_ptr<ModelWeights>>>().Data();
  }

 private:
  // createSession(contextSize, ubatch, kernels, tuning?) and createSessionAsync(...) take the same arguments.
  struct SessionArgs {
    uint32_t ctxSize = 0, ubatch = 64, kernels = 0;
    Session::Tuning tuning;
  };
  SessionArgs sessionArgs(const Napi::CallbackInfo& info) {
    if (!model_) throw NativeError("DISPOSED", "model was disposed and cannot be used any more");
    SessionArgs a;
    a.ctxSize = info[0].As<Napi::Number>().Uint32Value();
    a.ubatch = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 64;
    a.kernels = info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
    if (a.kernels > 2) throw NativeError("INVALID_ARGUMENT", "kernels must be 0 (auto), 1 (gpu) or 2 (cpu)");
    // Optional tuning { rowsPerSubgroup?, stageInput?, wideLoads?, integerDot?, prefillKernel?, prefillIntegerDot? }
    // (runtime/tuning/).
    if (info[3].IsObject()) {
      Napi::Object t = info[3].As<Napi::Object>();
      if (t.Get("rowsPerSubgroup").IsNumber()) a.tuning.rows = t.Get("rowsPerSubgroup").As<Napi::Number>().Int32Value();
      auto flag = [&](const char* key, int& out) {
        Napi::Value v = t.Get(key);
        if (v.IsBoolean()) out = v.As<Napi::Boolean>().Value() ? 1 : 0;
      };
      flag("stageInput", a.tuning.stage);
      flag("wideLoads", a.tuning.wide);
      flag("integerDot", a.tuning.dot8);
      flag("prefillIntegerDot", a.tuning.prefillDot8);
      Napi::Value k = t.Get("prefillKernel");
      if (k.IsString()) {
        const std::string name = k.As<Napi::String>().Utf8Value();
        a.tuning.prefillKernel = name == "gemm"      ? 0
                                 : name == "tiled16" ? 1
                                 : name == "matvec"  ? 2
                                 : name == "lane"    ? 3
                                 : name == "coopmat" ? 4
                                                     : 99;
      }
    }
    return a;
  }
  static Napi::Value wrapSession(Napi::Env env, std::shared_ptr<Session> session) {
    auto* data = env.GetInstanceData<AddonData>();
    return data->sessionCtor.New({Napi::External<std::shared_ptr<Session>>::New(env, &session)});
  }

  Napi::Value CreateSession(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      SessionArgs a = sessionArgs(info);
      return wrapSession(env, std::make_shared<Session>(model_, a.ctxSize, a.ubatch, Session::KernelSet(a.kernels), a.tuning,
                                                        sessionOverridesFromEnvironment()));
    });
  }

  // The same on a worker thread → Promise<Session>: building the session's pipelines (a first launch compiles
  // them) and recording its command buffers never block the JS thread — a game's frame loop keeps running.
  class CreateSessionWorker : public Napi::AsyncWorker {
   public:
    CreateSessionWorker(Napi::Env env, std::shared_ptr<ModelWeights> model, SessionArgs args)
        : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), model_(std::move(model)), args_(args) {}
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
      try {
        session_ = std::make_shared<Session>(model_, args_.ctxSize, args_.ubatch, Session::KernelSet(args_.kernels), args_.tuning,
                                             sessionOverridesFromEnvironment());
      } catch (const std::exception& e) {
        error_.capture(e);
        SetError(e.what());
      }
    }
    void OnOK() override { deferred_.Resolve(wrapSession(Env(), std::move(session_))); }
    void OnError(const Napi::Error&) override { deferred_.Reject(makeError(Env(), error_.code, error_.message, error_.vkResult).Value()); }

   private:
    Napi::Promise::Deferred deferred_;
    std::shared_ptr<ModelWeights> model_;  // alive until the session exists, whatever JS does meanwhile
    SessionArgs args_;
    std::shared_ptr<Session> session_;
    CapturedError error_;
  };
  Napi::Value CreateSessionAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      auto* w = new CreateSessionWorker(env, model_, sessionArgs(info));
      Napi::Promise p = w->promise();
      w->Queue();
      return p;
    });
  }
  Napi::Value DeviceBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), model_ ? double(model_->deviceBytes()) : 0.0);
  }
  Napi::Value WeightBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), model_ ? double(model_->weightBytes()) : 0.0);
  }
  void Dispose(const Napi::CallbackInfo&) { model_.reset(); }

  std::shared_ptr<ModelWeights> model_;
};

// ---------------------------------------------------------------------------------------------
class ContextWrap : public Napi::ObjectWrap<ContextWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Context",
                       {InstanceMethod("loadModel", &ContextWrap::LoadModel),
                        InstanceMethod("takeValidationMessages", &ContextWrap::TakeValidationMessages),
                        InstanceMethod("savePipelineCache", &ContextWrap::SavePipelineCache),
                        InstanceMethod("deferPipelineCacheSaves", &ContextWrap::DeferPipelineCacheSaves),
                        InstanceMethod("dispose", &ContextWrap::Dispose), InstanceAccessor("device", &ContextWrap::Device, nullptr),
                        InstanceAccessor("pipelineCache", &ContextWrap::PipelineCacheStats, nullptr),
                        InstanceAccessor("pipelineBuilds", &ContextWrap::PipelineBuildStats, nullptr),
                        InstanceAccessor("deviceMemoryInUse", &ContextWrap::MemoryInUse, nullptr),
                        InstanceAccessor("validation", &ContextWrap::Validation, nullptr)});
  }

  ContextWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ContextWrap>(info) {
    guarded(info.Env(), [&] {
      VkContext::Options opts;
      if (info[0].IsObject()) {
        Napi::Object o = info[0].As<Napi::Object>();
        if (o.Get("device").IsString()) opts.device = o.Get("device").As<Napi::String>().Utf8Value();
        if (o.Get("device").IsNumber()) opts.device = std::to_string(o.Get("device").As<Napi::Number>().Uint32Value());
        opts.validation = o.Get("validation").ToBoolean();
        if (o.Get("memoryBudget").IsNumber()) opts.memoryBudget = uint64_t(o.Get("memoryBudget").As<Napi::Number>().Int64Value());
        // A folder (absolute; runtime/runtime.ts resolves the default and the environment); absent: no cache.
        if (o.Get("pipelineCacheDir").IsString()) opts.pipelineCacheDir = o.Get("pipelineCacheDir").As<Napi::String>().Utf8Value();
      }
      opts.syncValidation = syncValidationFromEnvironment();
      ctx_ = std::make_shared<VkContext>(opts);
    });
  }

 private:
  struct Progress {
    uint64_t done, total;
  };

  class LoadWorker : public Napi::AsyncProgressWorker<Progress> {
   public:
    LoadWorker(Napi::Env env, Napi::Object owner, std::shared_ptr<VkContext> ctx, std::string path, LlamaHParams hp,
               std::vector<TensorDesc> tensors, Napi::Function onProgress)
        : Napi::AsyncProgressWorker<Progress>(env),
          deferred_(Napi::Promise::Deferred::New(env)),
          owner_(Napi::Persistent(owner)),
          ctx_(std::move(ctx)),
          path_(std::move(path)),
          hp_(hp),
          tensors_(std::move(tensors)) {
      if (!onProgress.IsEmpty()) onProgress_ = Napi::Persistent(onProgress);
    }
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute(const ExecutionProgress& progress) override {
      try {
        model_ =
            std::make_shared<ModelWeights>(ctx_, path_, hp_, tensors_, loadOptionsFromEnvironment(), [&](uint64_t done, uint64_t total) {
              Progress p{done, total};
              progress.Send(&p, 1);
            });
      } catch (const std::exception& e) {
        error_.capture(e);
        SetError(e.what());
      }
    }
    void OnProgress(const Progress* data, size_t count) override {
      if (onProgress_.IsEmpty() || count == 0) return;
      Napi::Env env = Env();
      onProgress_.Call({Napi::Number::New(env, double(data[count - 1].done)), Napi::Number::New(env, double(data[count - 1].total))});
    }
    void OnOK() override {
      Napi::Env env = Env();
      auto* data = env.GetInstanceData<AddonData>();
      deferred_.Resolve(data->modelCtor.New({Napi::External<std::shared_ptr<ModelWeights>>::New(env, &model_)}));
    }
    void OnError(const Napi::Error&) override { deferred_.Reject(makeError(Env(), error_.code, error_.message, error_.vkResult).Value()); }

   private:
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference owner_;
    std::shared_ptr<VkContext> ctx_;
    std::string path_;
    LlamaHParams hp_;
    std::vector<TensorDesc> tensors_;
    Napi::FunctionReference onProgress_;
    std::shared_ptr<ModelWeights> model_;
    CapturedError error_;
  };

  // loadModel(path, { hparams: {...}, tensors: [{ name, type, dims, offset, nbytes }] }, onProgress?)
  Napi::Value LoadModel(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (!ctx_) throw NativeError("DISPOSED", "runtime was disposed and cannot be used any more");
      if (!info[0].IsString() || !info[1].IsObject()) throw NativeError("INVALID_ARGUMENT", "loadModel(path, description, onProgress?)");
      std::string path = info[0].As<Napi::String>().Utf8Value();
      Napi::Object desc = info[1].As<Napi::Object>();
      Napi::Object h = desc.Get("hparams").As<Napi::Object>();
      LlamaHParams hp{};
      hp.nLayer = getU32(h, "nLayer");
      hp.nEmbd = getU32(h, "nEmbd");
      hp.nHead = getU32(h, "nHead");
      hp.nHeadKv = getU32(h, "nHeadKv");
      hp.nFf = getU32(h, "nFf");
      hp.nVocab = getU32(h, "nVocab");
      hp.ropeDim = getU32(h, "ropeDim");
      hp.headDim = getU32(h, "headDim");
      hp.ropeBase = h.Get("ropeFreqBase").As<Napi::Number>().FloatValue();
      hp.rmsEps = h.Get("rmsEps").As<Napi::Number>().FloatValue();
      Napi::Array list = desc.Get("tensors").As<Napi::Array>();
      std::vector<TensorDesc> tensors;
      for (uint32_t i = 0; i < list.Length(); ++i) {
        Napi::Object t = list.Get(i).As<Napi::Object>();
        TensorDesc d;
        d.name = t.Get("name").As<Napi::String>().Utf8Value();
        d.type = getU32(t, "type");
        Napi::Array dims = t.Get("dims").As<Napi::Array>();
        for (uint32_t j = 0; j < dims.Length(); ++j) d.dims.push_back(uint64_t(dims.Get(j).As<Napi::Number>().Int64Value()));
        d.offset = uint64_t(t.Get("offset").As<Napi::Number>().Int64Value());
        d.nbytes = uint64_t(t.Get("nbytes").As<Napi::Number>().Int64Value());
        tensors.push_back(std::move(d));
      }
      Napi::Function onProgress = info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
      auto* w = new LoadWorker(env, Value(), ctx_, path, hp, std::move(tensors), onProgress);
      Napi::Promise p = w->promise();
      w->Queue();
      return p;
    });
  }

  Napi::Value TakeValidationMessages(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    if (!ctx_) return out;
    auto msgs = ctx_->takeValidationMessages();
    for (uint32_t i = 0; i < msgs.size(); ++i) {
      Napi::Object m = Napi::Object::New(env);
      m.Set("severity", msgs[i].severity);
      m.Set("message", msgs[i].text);
      out.Set(i, m);
    }
    return out;
  }
  Napi::Value Device(const Napi::CallbackInfo& info) {
    if (!ctx_) return info.Env().Null();
    return deviceInfoToJs(info.Env(), ctx_->info());
  }
  Napi::Value MemoryInUse(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), ctx_ ? double(ctx_->deviceMemoryInUse()) : 0.0);
  }
  Napi::Value Validation(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), ctx_ && ctx_->validationEnabled()); }
  // Saves now (models or sessions may keep the VkContext alive a little longer) and keeps the stats,
  // so they stay readable after dispose.
  void Dispose(const Napi::CallbackInfo&) {
    if (!ctx_) return;
    ctx_->savePipelineCache();
    finalCacheStats_ = ctx_->pipelineCacheStats();
    finalBuildStats_ = ctx_->kernelBuildStats();
    ctx_.reset();
  }
  Napi::Value SavePipelineCache(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), ctx_ && ctx_->savePipelineCache());
  }
  void DeferPipelineCacheSaves(const Napi::CallbackInfo& info) {
    if (ctx_ && info[0].IsBoolean()) ctx_->deferPipelineCacheSaves(info[0].As<Napi::Boolean>().Value());
  }
  Napi::Value PipelineCacheStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    PipelineCache::Stats s = ctx_ ? ctx_->pipelineCacheStats() : finalCacheStats_;
    Napi::Object o = Napi::Object::New(env);
    o.Set("path", s.path.empty() ? env.Null() : Napi::String::New(env, s.path));
    o.Set("loadedBytes", double(s.loadedBytes));
    o.Set("savedBytes", double(s.savedBytes));
    o.Set("writes", s.writes);
    o.Set("hit", s.hit);
    o.Set("error", s.error.empty() ? env.Null() : Napi::String::New(env, s.error));
    return o;
  }

  Napi::Value PipelineBuildStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    VkContext::KernelBuildStats s = ctx_ ? ctx_->kernelBuildStats() : finalBuildStats_;
    Napi::Object o = Napi::Object::New(env);
    o.Set("pipelines", double(s.kernels));
    o.Set("wallMs", s.wallMs);
    o.Set("maxThreads", s.maxThreads);
    return o;
  }

  std::shared_ptr<VkContext> ctx_;
  PipelineCache::Stats finalCacheStats_;
  VkContext::KernelBuildStats finalBuildStats_;
};

Napi::Value ListDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto devices = VkContext::listDevices();
    Napi::Array out = Napi::Array::New(env, devices.size());
    for (uint32_t i = 0; i < devices.size(); ++i) out.Set(i, deviceInfoToJs(env, devices[i]));
    return out;
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->modelCtor = Napi::Persistent(ModelWrap::Define(env));
  data->sessionCtor = Napi::Persistent(SessionWrap::Define(env));
  env.SetInstanceData(data);
  exports.Set("listDevices", Napi::Function::New(env, ListDevices));
  // Names the compiled compute kernels (a hash of their SPIR-V): stored decode tunings are only reused with
  // the kernels they were measured with.
  exports.Set("kernelsVersion", Napi::String::New(env, kKernelsHash));
  exports.Set("Context", ContextWrap::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(parley, Init)
