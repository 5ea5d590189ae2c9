// The polynomial coefficients of the vectorised math, one copy for every vmath_<isa>.h, so that the
// ports evaluate the same polynomials as vmath_avx2.h (which documents them) and give its bits.
// Highest degree first: each is evaluated by Horner's rule, p = p·x + c, one FMA per coefficient.
#pragma once

namespace tg {
namespace vmpoly {

// exp: Cephes expf, e^r ≈ 1 + r + r²·P(r) on [-ln2/2, ln2/2]
constexpr float kExp[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                           4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
// log: Cephes logf, log1p(f) ≈ f - f²/2 + f³·P(f) on [√½ - 1, √2 - 1]
constexpr float kLog[9] = {7.0376836292e-2f,  -1.1514610310e-1f, 1.1676998740e-1f,
                           -1.2420140846e-1f, 1.4249322787e-1f,  -1.6668057665e-1f,
                           2.0000714765e-1f,  -2.4999993993e-1f, 3.3333331174e-1f};
// tanh: Cephes tanhf, x + x·z·P(z), z = x², |x| < 0.625
constexpr float kTanh[5] = {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f, 1.33314422036e-1f,
                            -3.33332819422e-1f};
// erf: erf(x)/x - c0_hi ≈ P(x²) for |x| < 0.875 (Chebyshev fit; the last term is c0's low part)
constexpr float kErf[6] = {-6.214585155e-04f, 5.034370814e-03f, -2.679294720e-02f,
                           1.128249690e-01f,  -3.761255443e-01f, 5.161160743e-08f};

}  // namespace vmpoly
}  // namespace tg
