// Tests of the dispatch table (kernels/dispatch.h): TENSORGRAD_ISA is honoured on first use; each
// level this CPU runs has a complete table (a missing entry would be a null call at run time);
// set_active_isa switches tables and clamps what the CPU lacks; AVX-512 takes AVX2's entries where
// it has none of its own, and NEON has its own in every family.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "cpu.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"

namespace {

int g_pass = 0, g_fail = 0;

void check(bool ok, const char* what, tg::Isa isa) {
  if (ok) {
    g_pass++;
  } else {
    g_fail++;
    std::printf("FAIL %s (isa %s)\n", what, tg::isa_name(isa));
  }
}

bool complete(const tg::gemm::Kernels& g) {
  return g.name != nullptr && g.panel_a != nullptr && g.rows_a != nullptr && g.pack_a != nullptr &&
         g.pack_b != nullptr && g.blk.mr > 0 && g.blk.nr > 0;
}

bool complete(const tg::IsaKernels& k) {
  const auto& e = k.elementwise;
  const auto& r = k.reduce;
  const auto& f = k.fused;
  return e.binary_row && e.unary && e.unary_grad && e.transpose && r.sum_f64 && r.accumulate_f64 && r.sum_cols && r.relu_grad_sum_cols &&
         r.argreduce && k.softmax.forward && k.softmax.backward && f.row_max_sum && f.exp_sum && f.exp_sum_prob &&
         f.xent_grad && f.adam && complete(k.gemm) && complete(k.gemm_narrow) && k.gemm_narrow.blk.nr <= k.gemm.blk.nr &&
         complete(k.gemm_tall) && k.tall_max_n <= k.gemm_tall.blk.nr;
}

bool same_families(const tg::IsaKernels& a, const tg::IsaKernels& b) {
  return std::memcmp(&a.elementwise, &b.elementwise, sizeof a.elementwise) == 0 &&
         std::memcmp(&a.reduce, &b.reduce, sizeof a.reduce) == 0 &&
         std::memcmp(&a.softmax, &b.softmax, sizeof a.softmax) == 0 &&
         std::memcmp(&a.fused, &b.fused, sizeof a.fused) == 0;
}

// What set_active_isa(want) must give on this machine.
tg::Isa expected(tg::Isa want) {
  const tg::Isa d = tg::detect_isa();
  const bool arm = d == tg::Isa::Neon;
  const bool other_arch = arm ? (want == tg::Isa::Avx2 || want == tg::Isa::Avx512) : want == tg::Isa::Neon;
  if (other_arch) return tg::Isa::Scalar;
  if (arm) return want == tg::Isa::Neon ? d : tg::Isa::Scalar;
  return static_cast<int>(want) < static_cast<int>(d) ? want : d;
}

}  // namespace

int main() {
  // Before any kernel runs: the first use reads the environment.
  setenv("TENSORGRAD_ISA", "scalar", 1);
  check(tg::active_isa() == tg::Isa::Scalar, "TENSORGRAD_ISA=scalar is honoured", tg::Isa::Scalar);
  check(&tg::active_kernels() == &tg::isa_scalar(), "the scalar table is active", tg::Isa::Scalar);

  for (tg::Isa want : {tg::Isa::Scalar, tg::Isa::Avx2, tg::Isa::Avx512, tg::Isa::Neon}) {
    tg::set_active_isa(want);
    const tg::IsaKernels& k = tg::active_kernels();
    check(k.isa == expected(want), "set_active_isa clamps to what the CPU runs", want);
    check(tg::active_isa() == k.isa, "active_isa() is the table's level", want);
    check(complete(k), "every entry is filled", want);
    check(std::strcmp(k.gemm.name, tg::isa_name(k.isa)) == 0, "the GEMM is the level's own", want);
    check(std::strcmp(tg::sgemm_kernel_name(), k.gemm.name) == 0, "sgemm uses the table's GEMM", want);
  }

#if TG_X86_KERNELS
  if (tg::detect_isa() == tg::Isa::Avx2 || tg::detect_isa() == tg::Isa::Avx512) {
    const tg::IsaKernels& avx2 = tg::isa_avx2();
    check(std::strcmp(avx2.gemm_narrow.name, "avx2") == 0, "AVX2's narrow GEMM is its own", tg::Isa::Avx2);
    check(!same_families(avx2, tg::isa_scalar()), "AVX2 has kernels of its own", tg::Isa::Avx2);
  }
  if (tg::detect_isa() == tg::Isa::Avx512) {
    const tg::IsaKernels& avx512 = tg::isa_avx512();
    const tg::IsaKernels& avx2 = tg::isa_avx2();
    check(avx512.elementwise.unary != avx2.elementwise.unary && avx512.softmax.forward != avx2.softmax.forward &&
              avx512.fused.exp_sum != avx2.fused.exp_sum,
          "AVX-512 has its own compute-bound kernels", tg::Isa::Avx512);
    check(std::memcmp(&avx512.reduce, &avx2.reduce, sizeof avx512.reduce) == 0 &&
              avx512.elementwise.binary_row == avx2.elementwise.binary_row &&
              avx512.elementwise.transpose == avx2.elementwise.transpose && avx512.fused.adam == avx2.fused.adam &&
              avx512.fused.row_max_sum == avx2.fused.row_max_sum && avx512.fused.xent_grad == avx2.fused.xent_grad,
          "AVX-512 runs AVX2's memory-bound kernels", tg::Isa::Avx512);
    check(std::strcmp(avx512.gemm_narrow.name, "avx512") == 0 && avx512.gemm_narrow.blk.mr == 16 &&
              avx512.gemm_narrow.blk.nr == 16 && avx512.gemm_narrow.panel_a != avx512.gemm.panel_a,
          "AVX-512's narrow products go to its own 16x16 kernel", tg::Isa::Avx512);
    check(avx512.tall_max_n == 12 && avx512.gemm_tall.panel_a != avx512.gemm_narrow.panel_a &&
              avx512.gemm_tall.blk.nr == avx512.gemm_narrow.blk.nr &&
              avx512.gemm_tall.pack_b == avx512.gemm_narrow.pack_b,
          "AVX-512's products of at most 12 columns have the tall kernel, on the 16x16 kernel's B layout",
          tg::Isa::Avx512);
  } else {
    std::printf("note: no AVX-512 on this CPU: the AVX-512 table was not exercised\n");
  }
#endif
#if TG_NEON_KERNELS
  const tg::IsaKernels& neon = tg::isa_neon();
  check(!same_families(neon, tg::isa_scalar()), "NEON has kernels of its own", tg::Isa::Neon);
  const tg::ReduceKernels& rs = tg::isa_scalar().reduce;
  check(neon.reduce.sum_f64 != rs.sum_f64 && neon.reduce.accumulate_f64 != rs.accumulate_f64 &&
            neon.reduce.sum_cols != rs.sum_cols && neon.reduce.argreduce != rs.argreduce,
        "NEON has reductions of its own", tg::Isa::Neon);
  check(std::strcmp(neon.gemm_narrow.name, "neon") == 0, "NEON's narrow GEMM is its own", tg::Isa::Neon);
#endif

  tg::set_active_isa(tg::detect_isa());
  check(tg::active_isa() == tg::detect_isa(), "the detected level can be restored", tg::detect_isa());
  std::printf("test_dispatch: %d passed, %d failed\n", g_pass, g_fail);
  return g_fail == 0 ? 0 : 1;
}
