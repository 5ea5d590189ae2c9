// Keeps the linux-x64 and linux-arm64 addons loadable on glibc 2.28 (RHEL 8, Debian 10), the
// oldest glibc the official Node 20+ binaries run on, although they are built on a newer one.
//
// A shared object asks for each glibc symbol at the version that was the default where it was
// linked. Three groups here would ask for versions newer than 2.28, and the dynamic loader of an
// older glibc would refuse the whole addon (the user silently gets the TS backend):
//   - exp, log, pow: GLIBC_2.29 (the versions without the SVID errno wrapper). The old versions
//     still exist in every later libm and call the same implementation; only errno handling on
//     overflow/domain errors differs, which nothing here reads.
//   - the pthread functions libstdc++ uses (thread, once, thread-local keys, try_lock):
//     GLIBC_2.34, when libpthread moved into libc. The old versions are the same functions (same
//     addresses in libc 2.34+); on an older glibc they live in libpthread.so.0, which the addon
//     lists as needed so the loader finds them there.
//   - what the static libstdc++ (linked in so GLIBCXX/CXXABI versions do not matter) takes from
//     a new glibc: __libc_single_threaded (GLIBC_2.32) and arc4random (GLIBC_2.36, reached only
//     through std::random_device, which tensorgrad does not use).
//
// CMakeLists.txt passes -Wl,--wrap=<name> for each name below, so every reference to <name> from
// any object, the static libstdc++ archive included, binds to __wrap_<name> here; each wrapper
// calls the old version, named with .symver. The list in CMakeLists.txt and this file must agree
// (a missing wrapper is a link error); test/binary-reach.test.ts checks the result with objdump.
// Only built for x86-64 glibc, the one prebuild that ships (other targets' base version differs).
#include <pthread.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

// CMakeLists.txt compiles this file only where it applies. Anywhere else an empty object would
// leave the __wrap_ references undefined until the addon is loaded, so refuse to build instead.
#if !defined(__GLIBC__) || !(defined(__x86_64__) || defined(__aarch64__))
#error "glibc_compat.cc is for glibc on x86-64 or aarch64 only (their first symbol versions)"
#endif

// The first version each architecture's glibc gave these symbols: 2.2.5 on x86-64, 2.17 on
// aarch64 (its first glibc). That is also the oldest glibc the addon then needs for them.
#if defined(__x86_64__)
#define TG_GLIBC_OLD(name) #name "@GLIBC_2.2.5"
#else
#define TG_GLIBC_OLD(name) #name "@GLIBC_2.17"
#endif

extern "C" {

// The old versions, by their own names so the wrappers below can call them.
double tg_old_exp(double);
double tg_old_log(double);
double tg_old_pow(double, double);
int tg_old_pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
int tg_old_pthread_join(pthread_t, void**);
int tg_old_pthread_detach(pthread_t);
int tg_old_pthread_once(pthread_once_t*, void (*)());
int tg_old_pthread_key_create(pthread_key_t*, void (*)(void*));
int tg_old___pthread_key_create(pthread_key_t*, void (*)(void*));
int tg_old_pthread_key_delete(pthread_key_t);
void* tg_old_pthread_getspecific(pthread_key_t);
int tg_old_pthread_setspecific(pthread_key_t, const void*);
int tg_old_pthread_mutex_trylock(pthread_mutex_t*);

__asm__(".symver tg_old_exp, " TG_GLIBC_OLD(exp));
__asm__(".symver tg_old_log, " TG_GLIBC_OLD(log));
__asm__(".symver tg_old_pow, " TG_GLIBC_OLD(pow));
__asm__(".symver tg_old_pthread_create, " TG_GLIBC_OLD(pthread_create));
__asm__(".symver tg_old_pthread_join, " TG_GLIBC_OLD(pthread_join));
__asm__(".symver tg_old_pthread_detach, " TG_GLIBC_OLD(pthread_detach));
__asm__(".symver tg_old_pthread_once, " TG_GLIBC_OLD(pthread_once));
__asm__(".symver tg_old_pthread_key_create, " TG_GLIBC_OLD(pthread_key_create));
__asm__(".symver tg_old___pthread_key_create, " TG_GLIBC_OLD(__pthread_key_create));
__asm__(".symver tg_old_pthread_key_delete, " TG_GLIBC_OLD(pthread_key_delete));
__asm__(".symver tg_old_pthread_getspecific, " TG_GLIBC_OLD(pthread_getspecific));
__asm__(".symver tg_old_pthread_setspecific, " TG_GLIBC_OLD(pthread_setspecific));
__asm__(".symver tg_old_pthread_mutex_trylock, " TG_GLIBC_OLD(pthread_mutex_trylock));

double __wrap_exp(double x) { return tg_old_exp(x); }
double __wrap_log(double x) { return tg_old_log(x); }
double __wrap_pow(double x, double y) { return tg_old_pow(x, y); }

int __wrap_pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  return tg_old_pthread_create(t, attr, fn, arg);
}
int __wrap_pthread_join(pthread_t t, void** ret) { return tg_old_pthread_join(t, ret); }
int __wrap_pthread_detach(pthread_t t) { return tg_old_pthread_detach(t); }
int __wrap_pthread_once(pthread_once_t* once, void (*fn)()) { return tg_old_pthread_once(once, fn); }
int __wrap_pthread_key_create(pthread_key_t* key, void (*dtor)(void*)) {
  return tg_old_pthread_key_create(key, dtor);
}
// libstdc++ takes this one's address (a weak reference) to ask whether threads are available;
// defining the wrapper keeps that answer "yes".
int __wrap___pthread_key_create(pthread_key_t* key, void (*dtor)(void*)) {
  return tg_old___pthread_key_create(key, dtor);
}
int __wrap_pthread_key_delete(pthread_key_t key) { return tg_old_pthread_key_delete(key); }
void* __wrap_pthread_getspecific(pthread_key_t key) { return tg_old_pthread_getspecific(key); }
int __wrap_pthread_setspecific(pthread_key_t key, const void* value) {
  return tg_old_pthread_setspecific(key, value);
}
int __wrap_pthread_mutex_trylock(pthread_mutex_t* m) { return tg_old_pthread_mutex_trylock(m); }

// libstdc++ skips atomic reference counts and guard locks while this is nonzero. Zero means
// "maybe multi-threaded": always correct, and the addon runs a thread pool anyway.
char __wrap___libc_single_threaded = 0;

// No version of arc4random predates 2.36. getentropy (GLIBC_2.25) reads the same kernel source.
uint32_t __wrap_arc4random() {
  uint32_t v;
  if (getentropy(&v, sizeof v) != 0) std::abort();
  return v;
}

}  // extern "C"
